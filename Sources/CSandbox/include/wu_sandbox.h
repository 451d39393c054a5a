#ifndef WU_SANDBOX_H
#define WU_SANDBOX_H
/// Placeholder until the sandbox issue lands: the version of the CSandbox interface.
int wu_sandbox_abi_version(void);
#endif
