#include "wu_sandbox.h"
int wu_sandbox_abi_version(void) { return 0; }
