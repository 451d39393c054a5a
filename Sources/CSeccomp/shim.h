// libseccomp, reached directly from Swift by WUProfiles, only to resolve syscall names
// (seccomp_syscall_resolve_name is a plain C function). This is not the sandbox: no filter is
// built or loaded through this module.
#include <seccomp.h>
