public import WUProtocol

/// What a finished unit reports.
public struct SandboxResult: Sendable {
    public var usage: ResourceUsage
    /// The host uid the unit ran as (inside it was ``Sandbox/unitUID``).
    public var hostUID: UInt32
    /// The init's pid in the host's pid namespace.
    public var initPID: Int32
    /// Under ``Sandbox/learning(profile:cap:)``: every syscall the unit made, with counts.
    public var learnedSyscalls: [ResourceUsage.DeniedSyscall] = []
    /// CPU time the calling side spent on this unit (setup, watching it, answering its denied
    /// calls), in nanoseconds: what the runner pays, not the unit.
    public var runnerCPUNs: Int64 = 0
    /// The unit started in a sandbox prepared ahead (see `prepareAhead`).
    public var wasPrepared = false
}
