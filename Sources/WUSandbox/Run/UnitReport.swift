import CSandbox
import Glibc
import WUCore
import WUProtocol

/// What a finished unit used and how it ended, collected once its init is reaped: the cgroup's
/// counters, the unit's own wait status (from the status pipe), its output's size and tails, and
/// the denied calls the supervisor counted.
struct UnitReport {
    let request: SandboxRequest
    let limits: UnitLimits
    let started: StartedUnit
    let watch: UnitWatch

    func usage(initStatus: Int32, endNs: Int64, group: UnitCgroup?) -> ResourceUsage {
        var usage = ResourceUsage()
        usage.wallMs = (endNs - started.startNs) / 1_000_000
        if let u = group?.usage() {
            usage.cpuUserMs = u.cpuUserMs
            usage.cpuSystemMs = u.cpuSystemMs
            usage.peakMemoryBytes = u.peakMemoryBytes
            usage.peakPids = u.peakPids ?? max(watch.peakPids, 1)
            usage.oomKilled = u.oomKills > 0
        }
        // The unit's own status, from the init; without it (the init was killed) the init's.
        var unitStatus: Int32 = 0
        let got = read(started.statusFD, &unitStatus, 4)
        let status = got == 4 ? unitStatus : initStatus
        if wu_wifexited(status) != 0 {
            usage.exitCode = wu_wexitstatus(status)
        } else if wu_wifsignaled(status) != 0 {
            usage.signal = wu_wtermsig(status)
        }
        usage.timedOut = watch.killed.contains(.wallClock)
        usage.diskExceeded = watch.killed.contains(.disk)
        if let out = request.outputDirectory {
            // Past the limit the walk stops: the unit failed anyway, and its bytes are then "at least".
            let u = DirectoryTree.usage(of: out, stopAbove: limits.disk > 0 ? limits.disk : .max)
            usage.outputBytes = u.fileBytes
            if limits.disk > 0, u.allocated > limits.disk { usage.diskExceeded = true }
        }
        if !usage.diskExceeded, usage.signal == Int32(SIGXFSZ) { usage.diskExceeded = true }
        let stdoutTail = watch.output.stdout.tail.text
        let stderrTail = watch.output.stderr.tail.text
        usage.stdoutTail = stdoutTail
        usage.stderrTail = stderrTail
        if watch.killed == .cancel {
            usage.stderrTail += stderrTail.isEmpty ? "wu: cancelled" : "\nwu: cancelled"
        }
        if let supervisor = watch.supervisor, case .report = supervisor.mode { usage.deniedSyscalls = supervisor.named }
        return usage
    }

    /// Under `wu profile learn`: every call the unit made.
    var learnedSyscalls: [ResourceUsage.DeniedSyscall] {
        guard let supervisor = watch.supervisor, case .learn = supervisor.mode else { return [] }
        return supervisor.named
    }
}
