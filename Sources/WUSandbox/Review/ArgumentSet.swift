/// A set of syscall argument tuples (the six 64-bit registers seccomp can compare), kept exact.
///
/// The set is a union of *cubes*: a cube fixes some bits of some arguments and leaves every other
/// bit free. Each seccomp condition is such a union (`MASKED_EQ` is one cube, `EQ` one cube with
/// every bit fixed, an interval `LT`/`GT`… splits into at most 128 aligned blocks, `NE` into 64),
/// a rule is the intersection of its conditions, and a syscall's grant is the union of its rules.
/// Subset is decided by cube subtraction, so "B allows nothing A does not" is a proof, not a
/// heuristic — `ioctl` with `request != 0x5412` equals `request < 0x5412 ∪ request > 0x5412`.
struct ArgumentSet: Sendable, Equatable {
    /// One cube: for each argument, the bits it fixes (`mask`) and their values (`bits ⊆ mask`).
    struct Cube: Sendable, Hashable {
        var mask: [UInt64]
        var bits: [UInt64]

        static let any = Cube(mask: Array(repeating: 0, count: 6), bits: Array(repeating: 0, count: 6))

        func intersection(_ other: Cube) -> Cube? {
            var out = self
            for i in 0..<6 {
                if mask[i] & other.mask[i] & (bits[i] ^ other.bits[i]) != 0 { return nil }
                out.mask[i] = mask[i] | other.mask[i]
                out.bits[i] = bits[i] | other.bits[i]
            }
            return out
        }

        func isSubset(of other: Cube) -> Bool {
            for i in 0..<6 where other.mask[i] & ~mask[i] != 0 || bits[i] & other.mask[i] != other.bits[i] { return false }
            return true
        }

        /// `self \ other`, as disjoint cubes.
        func subtracting(_ other: Cube) -> [Cube] {
            guard intersection(other) != nil else { return [self] }
            var out: [Cube] = []
            var current = self
            for i in 0..<6 {
                var free = other.mask[i] & ~current.mask[i]
                while free != 0 {
                    let bit = free & (~free &+ 1)
                    free &= ~bit
                    var piece = current
                    piece.mask[i] |= bit
                    piece.bits[i] |= (other.bits[i] & bit) ^ bit
                    out.append(piece)
                    current.mask[i] |= bit
                    current.bits[i] |= other.bits[i] & bit
                }
            }
            return out
        }

        /// The smallest tuple in the cube (every free bit 0): a concrete example.
        var example: [UInt64] { bits }
    }

    var cubes: [Cube]

    static let everything = ArgumentSet(cubes: [.any])
    static let empty = ArgumentSet(cubes: [])

    var isEmpty: Bool { cubes.isEmpty }

    /// The tuples whose argument `index` lies in `values` (cubes on one 64-bit value).
    init(index: Int, values: [(mask: UInt64, bits: UInt64)]) {
        cubes = values.map {
            var c = Cube.any
            c.mask[index] = $0.mask
            c.bits[index] = $0.bits
            return c
        }
    }

    init(cubes: [Cube]) { self.cubes = cubes }

    /// The tuples a seccomp condition admits (OCI semantics: for `MASKED_EQ`, `value` is the mask
    /// and `valueTwo` the value the masked argument must equal).
    init(_ arg: SandboxProfile.Seccomp.Arg) {
        let v = arg.value
        switch arg.op {
        case .eq: self.init(index: arg.index, values: [(~0, v)])
        case .ne:
            self.init(index: arg.index, values: (0..<64).map { i in let m = ~UInt64(0) << UInt64(i); return (m, (v ^ (1 << UInt64(i))) & m) })
        case .lt: self.init(index: arg.index, values: v == 0 ? [] : Self.interval(0, v - 1))
        case .le: self.init(index: arg.index, values: Self.interval(0, v))
        case .gt: self.init(index: arg.index, values: v == .max ? [] : Self.interval(v + 1, .max))
        case .ge: self.init(index: arg.index, values: Self.interval(v, .max))
        case .maskedEq: self.init(index: arg.index, values: arg.valueTwo & ~v != 0 ? [] : [(v, arg.valueTwo)])
        }
    }

    /// The tuples a rule's conditions all admit.
    init(conditions: [SandboxProfile.Seccomp.Arg]) {
        var set = ArgumentSet.everything
        for c in conditions { set = set.intersection(ArgumentSet(c)) }
        self = set
    }

    /// `[lo, hi]` as aligned blocks.
    static func interval(_ lo: UInt64, _ hi: UInt64) -> [(mask: UInt64, bits: UInt64)] {
        guard lo <= hi else { return [] }
        var out: [(mask: UInt64, bits: UInt64)] = []
        var lo = lo
        while true {
            var k = lo == 0 ? 64 : lo.trailingZeroBitCount
            func span(_ k: Int) -> UInt64 { k == 64 ? .max : (UInt64(1) << UInt64(k)) - 1 }
            while (lo | span(k)) > hi { k -= 1 }
            let end = lo | span(k)
            out.append((~span(k), lo))
            if end == hi { return out }
            lo = end + 1
        }
    }

    func union(_ other: ArgumentSet) -> ArgumentSet { ArgumentSet(cubes: cubes + other.cubes) }

    func intersection(_ other: ArgumentSet) -> ArgumentSet {
        var out: [Cube] = []
        for a in cubes { for b in other.cubes { if let c = a.intersection(b) { out.append(c) } } }
        return ArgumentSet(cubes: out)
    }

    /// `self \ other`, or nil when the computation grew past `budget` cubes (callers then assume
    /// the worst: not a subset).
    func subtracting(_ other: ArgumentSet, budget: Int = 200_000) -> ArgumentSet? {
        var remaining = cubes.filter { c in !other.cubes.contains { c.isSubset(of: $0) } }
        for b in other.cubes {
            if remaining.isEmpty { break }
            remaining = remaining.flatMap { $0.subtracting(b) }
            if remaining.count > budget { return nil }
        }
        return ArgumentSet(cubes: remaining)
    }

    /// True when every tuple of `self` is in `other` (false when undecided within the budget).
    func isSubset(of other: ArgumentSet) -> Bool {
        subtracting(other)?.isEmpty ?? false
    }

    /// Whether some tuple has argument `index` with every bit of `set` 1 and every bit of `clear` 0.
    func admits(index: Int, set: UInt64, clear: UInt64 = 0) -> Bool {
        var probe = Cube.any
        probe.mask[index] = set | clear
        probe.bits[index] = set
        return cubes.contains { $0.intersection(probe) != nil }
    }

    /// Whether some tuple has argument `index` equal to `value`.
    func admits(index: Int, value: UInt64) -> Bool { admits(index: index, set: value, clear: ~value) }

    /// Whether some tuple has argument `index` outside `values`.
    func admits(index: Int, outside values: [UInt64]) -> Bool {
        let points = ArgumentSet(cubes: values.map { var c = Cube.any; c.mask[index] = ~0; c.bits[index] = $0; return c })
        guard let rest = subtracting(points) else { return true }
        return !rest.isEmpty
    }
}
