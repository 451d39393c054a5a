// The profile model and its review (parse, diff, lint, explain, admission) live in WUProfiles,
// which the orchestrator links without the sandbox. Re-exported so every user of WUSandbox keeps
// seeing `SandboxProfile`, `SandboxError`, `ProfileDiff`… as before.
@_exported public import WUProfiles
