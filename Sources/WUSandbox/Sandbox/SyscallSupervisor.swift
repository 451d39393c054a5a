import CSandbox
import Glibc
import WUProtocol

/// Answers the seccomp user notifications of one unit and counts them by syscall.
///
/// Two modes. **Report** (every unit run as root): the unit's filter is the profile's with its
/// `errno` returns turned into notifications; each call is answered with the errno the profile's
/// own filter gives it (``SeccompFilter/evaluate(nr:arch:instructionPointer:args:)`` on the
/// original program), so the unit sees exactly what it would without the report, and the call is
/// counted. **Learn** (`wu profile learn`): every call is notified, recorded and let through.
///
/// The supervisor runs on the unit's own thread, inside its poll loop. A unit flooding denied
/// calls can neither take the runner's CPU nor its memory: at most ``budgetPerSecond`` calls are
/// answered per second (the rest wait in the kernel, slowing only the unit), and the table holds at
/// most ``maxDistinct`` syscalls.
struct SyscallSupervisor {
    enum Mode {
        case report(original: SeccompFilter)
        case learn
    }

    let listener: Int32
    let mode: Mode
    private(set) var counts: [UInt64: Int64] = [:]
    private(set) var overflow: Int64 = 0
    private var tokens: Double
    private var lastRefillNs: Int64

    static let budgetPerSecond = 20_000.0
    static let burst = 2_000.0
    static let maxDistinct = 1024

    init(listener: Int32, mode: Mode, nowNs: Int64) {
        self.listener = listener
        self.mode = mode
        self.tokens = Self.burst
        self.lastRefillNs = nowNs
    }

    /// Whether the poll loop should watch the listener now (false while the budget is spent).
    mutating func wantsPoll(nowNs: Int64) -> Bool {
        refill(nowNs)
        return tokens >= 1
    }

    /// How long until the budget allows another answer, for the poll timeout (0 when it does).
    var msUntilBudget: Int32 { tokens >= 1 ? 0 : Int32(max(1, ((1 - tokens) / Self.budgetPerSecond * 1000).rounded(.up))) }

    /// Answers what is waiting, within the budget. Never blocks: each receive follows a poll that
    /// saw a notification pending.
    mutating func serve(nowNs: Int64) {
        refill(nowNs)
        var notification = wu_notification()
        while tokens >= 1 {
            var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 0) == 1, p.revents & Int16(POLLIN) != 0 else { return }
            guard wu_notify_receive(listener, &notification) == 0 else {
                if errno == EINTR || errno == ENOENT { continue }  // ENOENT: the caller died first
                return
            }
            tokens -= 1
            record(arch: notification.arch, nr: notification.nr)
            switch mode {
            case .learn:
                _ = wu_notify_respond(listener, notification.id, 0, 1)
            case .report(let original):
                let verdict = withUnsafeBytes(of: notification.args) { raw in
                    original.evaluate(
                        nr: notification.nr,
                        arch: notification.arch,
                        instructionPointer: notification.instruction_pointer,
                        args: raw.bindMemory(to: UInt64.self)
                    )
                }
                // Only errno returns were turned into notifications; anything else would mean the
                // two programs disagree, and then the call is refused (never let through).
                let error = verdict.action == SeccompFilter.Verdict.errno ? verdict.errnoValue : EPERM
                _ = wu_notify_respond(listener, notification.id, error, 0)
            }
        }
    }

    private mutating func record(arch: UInt32, nr: Int32) {
        let key = UInt64(arch) << 32 | UInt64(UInt32(bitPattern: nr))
        if let n = counts[key] {
            counts[key] = n + 1
        } else if counts.count < Self.maxDistinct {
            counts[key] = 1
        } else {
            overflow += 1
        }
    }

    private mutating func refill(_ nowNs: Int64) {
        let elapsed = Double(max(0, nowNs - lastRefillNs)) / 1e9
        lastRefillNs = nowNs
        tokens = min(Self.burst, tokens + elapsed * Self.budgetPerSecond)
    }

    /// The counts by syscall name, most frequent first (then by name).
    var named: [ResourceUsage.DeniedSyscall] {
        var out = counts.map { key, count in
            ResourceUsage.DeniedSyscall(name: Self.name(arch: UInt32(key >> 32), nr: Int32(bitPattern: UInt32(truncatingIfNeeded: key))), count: count)
        }
        if overflow > 0 { out.append(.init(name: "(other)", count: overflow)) }
        return out.sorted { $0.count != $1.count ? $0.count > $1.count : $0.name < $1.name }
    }

    static func name(arch: UInt32, nr: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = wu_seccomp_syscall_name(arch, nr, &buffer, buffer.count)
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return arch == wu_seccomp_native_arch() ? name : "\(name) (arch 0x\(String(arch, radix: 16)))"
    }
}
