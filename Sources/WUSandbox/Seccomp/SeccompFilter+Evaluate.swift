import CSandbox
import WUProfiles

extension SeccompFilter {
    /// What the filter answers for one call, as the kernel would (`SECCOMP_RET_*`).
    public struct Verdict: Sendable, Equatable {
        /// The full 32-bit return value of the program.
        public var raw: UInt32

        public static let actionMask: UInt32 = 0xFFFF_0000
        public static let killProcess: UInt32 = 0x8000_0000
        public static let killThread: UInt32 = 0x0000_0000
        public static let trap: UInt32 = 0x0003_0000
        public static let errno: UInt32 = 0x0005_0000
        public static let userNotification: UInt32 = 0x7FC0_0000
        public static let trace: UInt32 = 0x7FF0_0000
        public static let log: UInt32 = 0x7FFC_0000
        public static let allow: UInt32 = 0x7FFF_0000

        public var action: UInt32 { raw & Self.actionMask }
        /// The errno of an `errno` verdict.
        public var errnoValue: Int32 { Int32(raw & 0xFFFF) }
        public var allows: Bool { action == Self.allow }
    }

    /// Runs the program on one call's `seccomp_data` (the kernel's classic-BPF machine, in Swift).
    ///
    /// The supervisor uses it to answer a notified call exactly as the profile's own filter would,
    /// argument conditions and per-rule errno included. An instruction the kernel would refuse to
    /// load, or a jump out of the program, gives `killProcess`: never an accidental allow.
    public func evaluate(nr: Int32, arch: UInt32, instructionPointer: UInt64 = 0, args: [UInt64]) -> Verdict {
        var padded = [UInt64](repeating: 0, count: 6)
        for (i, a) in args.prefix(6).enumerated() { padded[i] = a }
        return padded.withUnsafeBufferPointer { evaluate(nr: nr, arch: arch, instructionPointer: instructionPointer, args: $0) }
    }

    /// ``evaluate(nr:arch:instructionPointer:args:)`` without allocating (the supervisor's path).
    func evaluate(nr: Int32, arch: UInt32, instructionPointer: UInt64, args: UnsafeBufferPointer<UInt64>) -> Verdict {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 32) { words in
            // seccomp_data: nr, arch, instruction_pointer, args[6], as 16 native 32-bit words.
            words.initialize(repeating: 0)
            words[0] = UInt32(bitPattern: nr)
            words[1] = arch
            words[2] = UInt32(truncatingIfNeeded: instructionPointer)
            words[3] = UInt32(truncatingIfNeeded: instructionPointer >> 32)
            for i in 0..<min(6, args.count) {
                words[4 + 2 * i] = UInt32(truncatingIfNeeded: args[i])
                words[5 + 2 * i] = UInt32(truncatingIfNeeded: args[i] >> 32)
            }
            // Words 16…31 are the program's scratch memory M[0…15].
            return run(data: UnsafeMutableBufferPointer(rebasing: words[0..<16]), memory: UnsafeMutableBufferPointer(rebasing: words[16..<32]))
        }
    }

    private func run(data: UnsafeMutableBufferPointer<UInt32>, memory: UnsafeMutableBufferPointer<UInt32>) -> Verdict {
        let kill = Verdict(raw: Verdict.killProcess)
        var a: UInt32 = 0
        var x: UInt32 = 0
        var pc = 0
        let count = instructionCount
        var steps = 0
        while pc < count {
            steps += 1
            if steps > 4096 { return kill }  // classic BPF only jumps forward; this cannot happen
            let (code, jt, jf, k) = instruction(pc)
            pc += 1
            switch code & 0x07 {
            case 0x00, 0x01:  // LD, LDX
                let value: UInt32
                switch code & 0xE0 {
                case 0x00: value = k  // IMM
                case 0x20:  // ABS, 32-bit aligned loads only (the kernel checks this at load time)
                    guard code & 0x18 == 0, k % 4 == 0, k < 64 else { return kill }
                    value = data[Int(k / 4)]
                case 0x60:  // MEM
                    guard k < 16 else { return kill }
                    value = memory[Int(k)]
                case 0x80: value = 64  // LEN
                default: return kill
                }
                if code & 0x07 == 0x00 { a = value } else { x = value }
            case 0x02, 0x03:  // ST, STX
                guard k < 16 else { return kill }
                memory[Int(k)] = code & 0x07 == 0x02 ? a : x
            case 0x04:  // ALU
                let operand = code & 0x08 != 0 ? x : k
                switch code & 0xF0 {
                case 0x00: a = a &+ operand
                case 0x10: a = a &- operand
                case 0x20: a = a &* operand
                case 0x30:
                    guard operand != 0 else { return kill }
                    a /= operand
                case 0x40: a |= operand
                case 0x50: a &= operand
                case 0x60: a = operand >= 32 ? 0 : a << operand
                case 0x70: a = operand >= 32 ? 0 : a >> operand
                case 0x80: a = 0 &- a
                case 0x90:
                    guard operand != 0 else { return kill }
                    a %= operand
                case 0xA0: a ^= operand
                default: return kill
                }
            case 0x05:  // JMP
                let operand = code & 0x08 != 0 ? x : k
                let taken: Bool
                switch code & 0xF0 {
                case 0x00:
                    pc += Int(k)
                    continue
                case 0x10: taken = a == operand
                case 0x20: taken = a > operand
                case 0x30: taken = a >= operand
                case 0x40: taken = a & operand != 0
                default: return kill
                }
                pc += Int(taken ? jt : jf)
            case 0x06:  // RET
                switch code & 0x18 {
                case 0x00: return Verdict(raw: k)
                case 0x10: return Verdict(raw: a)
                default: return kill
                }
            default:  // MISC
                switch code & 0xF8 {
                case 0x00: x = a  // TAX
                case 0x80: a = x  // TXA
                default: return kill
                }
            }
        }
        return kill
    }

    /// The same program with every `errno` return turned into a user notification, for the
    /// denied-syscall report: the supervisor answers each such call with the errno this (original)
    /// filter gives it, and counts it. Allow, kill and trap returns are untouched.
    public func notifyingInsteadOf(action: UInt32) -> SeccompFilter {
        var bytes = self.bytes
        for pc in 0..<instructionCount {
            let (code, _, _, k) = instruction(pc)
            guard code == 0x06, k & Verdict.actionMask == action else { continue }
            let patched = Verdict.userNotification
            for i in 0..<4 { bytes[pc * 8 + 4 + i] = UInt8(truncatingIfNeeded: patched >> (8 * UInt32(i))) }
        }
        return SeccompFilter(bytes: bytes)
    }

    /// Whether the listener hand-over can run under this filter. After installing it, and before
    /// the supervisor holds the listener, the unit's process calls `execve`, or `exit_group` when
    /// that fails: a notified call there would wait for an answer nobody can give yet.
    var allowsListenerHandOver: Bool {
        let arch = wu_seccomp_native_arch()
        guard let execve = SyscallNames.number("execve"), let exitGroup = SyscallNames.number("exit_group") else { return false }
        return evaluate(nr: execve, arch: arch, args: [0, 0, 0]).allows && evaluate(nr: exitGroup, arch: arch, args: [127]).allows
    }

    var instructionCount: Int { bytes.count / 8 }

    /// `struct sock_filter` number `pc`: code, jt, jf, k (native byte order, little-endian here).
    func instruction(_ pc: Int) -> (code: UInt16, jt: UInt8, jf: UInt8, k: UInt32) {
        let o = pc * 8
        let code = UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8
        let k = UInt32(bytes[o + 4]) | UInt32(bytes[o + 5]) << 8 | UInt32(bytes[o + 6]) << 16 | UInt32(bytes[o + 7]) << 24
        return (code, bytes[o + 2], bytes[o + 3], k)
    }
}
