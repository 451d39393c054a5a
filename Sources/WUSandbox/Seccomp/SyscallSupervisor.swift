import CSandbox
import Glibc
import Synchronization
import WUProtocol

/// Answers the seccomp user notifications of one unit and counts them by syscall.
///
/// Two modes. **Report** (every unit run as root): the unit's filter is the profile's with its
/// `errno` returns turned into notifications; each call is answered with the errno the profile's
/// own filter gives it (``SeccompFilter/evaluate(nr:arch:instructionPointer:args:)`` on the
/// original program), so the unit sees exactly what it would without the report, and the call is
/// counted. **Learn** (`wu profile learn`): every call is notified and recorded; what the base
/// profile allows is let through (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`), what it denies gets the
/// base's errno, so learning never lets a unit do what its base would not.
///
/// The supervisor runs on the unit's own thread, inside its poll loop. A unit flooding denied
/// calls can neither take the runner's CPU nor its memory: a unit gets at most
/// ``budget(millicpus:)`` answers a second (in proportion to its CPU quota) and all units of the
/// process together at most ``processBudgetPerSecond``; the rest wait in the kernel, slowing
/// only the unit. The table holds at most ``maxDistinct`` syscalls.
struct SyscallSupervisor {
    enum Mode: Sendable {
        case report(original: SeccompFilter)
        case learn(base: SeccompFilter)
    }

    let listener: Int32
    let mode: Mode
    private(set) var counts: [UInt64: Int64] = [:]
    private(set) var overflow: Int64 = 0
    private var bucket: TokenBucket

    /// Answers per second for a unit with `millicpus` of CPU quota: 10,000 per CPU, 1,000 to 20,000.
    static func budget(millicpus: Int) -> Double { min(20_000, max(1_000, Double(millicpus) * 10)) }
    static let processBudgetPerSecond = 40_000.0
    static let maxDistinct = 1024

    /// Shared by every unit this process runs.
    private static let processBucket = Mutex(TokenBucket(rate: processBudgetPerSecond, nowNs: Monotonic.nowNs()))

    init(listener: Int32, mode: Mode, millicpus: Int, nowNs: Int64) {
        self.listener = listener
        self.mode = mode
        self.bucket = TokenBucket(rate: Self.budget(millicpus: millicpus), nowNs: nowNs)
    }

    /// Whether the poll loop should watch the listener now (false while a budget is spent).
    mutating func wantsPoll(nowNs: Int64) -> Bool {
        bucket.refill(nowNs)
        return bucket.tokens >= 1 && Self.processBucket.withLock { b in
            b.refill(nowNs)
            return b.tokens >= 1
        }
    }

    /// How long until the budgets allow another answer, for the poll timeout.
    var msUntilBudget: Int32 {
        max(bucket.msUntilToken, Self.processBucket.withLock { $0.msUntilToken })
    }

    /// Answers what is waiting, within the budgets, for at most 5 ms. After an answer the unit is
    /// usually about to make its next call: a short wait on the listener alone serves a burst at
    /// three syscalls a call instead of a turn of the whole poll loop.
    mutating func serve(nowNs: Int64) {
        var notification = wu_notification()
        let sliceEnd = nowNs + 5_000_000
        var waitMs: Int32 = 0
        while true {
            let now = Monotonic.nowNs()
            guard now < sliceEnd, bucket.take(now) else { return }
            guard Self.processBucket.withLock({ $0.take(now) }) else {
                bucket.giveBack()  // not spent: the process's budget stopped this answer
                return
            }
            var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, waitMs) == 1, p.revents & Int16(POLLIN) != 0 else {
                bucket.giveBack()
                Self.processBucket.withLock { $0.giveBack() }
                return
            }
            waitMs = 1
            // A failed receive still costs its token: an error cannot make the loop spin.
            guard wu_notify_receive(listener, &notification) == 0 else {
                if errno == EINTR || errno == ENOENT { continue }  // ENOENT: the caller died first
                return
            }
            record(arch: notification.arch, nr: notification.nr)
            let verdict = withUnsafeBytes(of: notification.args) { raw in
                filter.evaluate(
                    nr: notification.nr,
                    arch: notification.arch,
                    instructionPointer: notification.instruction_pointer,
                    args: raw.bindMemory(to: UInt64.self)
                )
            }
            if case .learn = mode, verdict.allows {
                _ = wu_notify_respond(listener, notification.id, 0, 1)
            } else {
                // Only errno returns of the profile's program are notified in report mode; any other
                // verdict (a kill, or a disagreement between the two programs) is refused, never let
                // through. The kernel caps an errno at 4095.
                let error = verdict.action == SeccompFilter.Verdict.errno ? min(verdict.errnoValue, 4095) : EPERM
                _ = wu_notify_respond(listener, notification.id, error, 0)
            }
        }
    }

    /// The program whose verdict answers each call.
    private var filter: SeccompFilter {
        switch mode {
        case .report(let original): original
        case .learn(let base): base
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

extension SyscallSupervisor {
    /// A token bucket: `rate` tokens a second, holding at most a tenth of a second's worth.
    struct TokenBucket {
        let rate: Double
        private(set) var tokens: Double
        private var lastNs: Int64

        init(rate: Double, nowNs: Int64) {
            self.rate = rate
            self.tokens = rate / 10
            self.lastNs = nowNs
        }

        mutating func refill(_ nowNs: Int64) {
            tokens = min(rate / 10, tokens + Double(max(0, nowNs - lastNs)) / 1e9 * rate)
            lastNs = max(lastNs, nowNs)
        }

        mutating func take(_ nowNs: Int64) -> Bool {
            refill(nowNs)
            guard tokens >= 1 else { return false }
            tokens -= 1
            return true
        }

        mutating func giveBack() { tokens += 1 }

        var msUntilToken: Int32 { tokens >= 1 ? 0 : Int32(max(1, ((1 - tokens) / rate * 1000).rounded(.up))) }
    }
}
