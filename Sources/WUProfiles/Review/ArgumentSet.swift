/// A set of syscall argument tuples (the six 64-bit registers seccomp can compare), kept exact.
///
/// The set is a union of *cubes*: a cube fixes some bits of some arguments and leaves every other
/// bit free. Each seccomp condition is such a union (`MASKED_EQ` is one cube, `EQ` one cube with
/// every bit fixed, an interval `LT`/`GT`… splits into at most 128 aligned blocks, `NE` into 64),
/// a rule is the intersection of its conditions, and a syscall's grant is the union of its rules.
/// Subset is decided exactly (``uncovered(by:limit:budget:)``), so "B allows nothing A does not" is a proof, not a
/// heuristic — `ioctl` with `request != 0x5412` equals `request < 0x5412 ∪ request > 0x5412`.
struct ArgumentSet: Sendable, Equatable {
    /// One cube: for each argument (lanes 0…5), the bits it fixes (`mask`) and their values
    /// (`bits ⊆ mask`). SIMD lanes, not arrays: no allocation per cube, one instruction per test.
    struct Cube: Sendable, Hashable {
        var mask: SIMD8<UInt64>
        var bits: SIMD8<UInt64>

        static let any = Cube(mask: .zero, bits: .zero)

        func intersection(_ other: Cube) -> Cube? {
            guard mask & other.mask & (bits ^ other.bits) == .zero else { return nil }
            return Cube(mask: mask | other.mask, bits: bits | other.bits)
        }

        func isSubset(of other: Cube) -> Bool {
            other.mask & ~mask == .zero && bits & other.mask == other.bits
        }

        /// The smallest tuple in the cube (every free bit 0): a concrete example.
        var example: [UInt64] { (0..<6).map { bits[$0] } }
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
            self.init(
                index: arg.index,
                values: (0..<64).map { i in
                    let m = ~UInt64(0) << UInt64(i)
                    return (m, (v ^ (1 << UInt64(i))) & m)
                }
            )
        case .lt: self.init(index: arg.index, values: v == 0 ? [] : Self.interval(0, v - 1))
        case .le: self.init(index: arg.index, values: Self.interval(0, v))
        case .gt: self.init(index: arg.index, values: v == .max ? [] : Self.interval(v + 1, .max))
        case .ge: self.init(index: arg.index, values: Self.interval(v, .max))
        case .maskedEq: self.init(index: arg.index, values: arg.valueTwo & ~v != 0 ? [] : [(v, arg.valueTwo)])
        }
    }

    /// The most cubes one rule may expand to (two `!=` conditions: 64 × 64).
    static let ruleCap = 4096

    /// The tuples a rule's conditions all admit.
    ///
    /// A rule whose conditions would expand past ``ruleCap`` cubes (three or more `!=`, say) is
    /// approximated, so that a hostile profile cannot exhaust memory: from above (conditions
    /// dropped, largest first: the set only grows) when `overApproximate`, else from below (empty).
    /// Compare a candidate from above and its reference from below, and "no wider" stays sound.
    init(conditions: [SandboxProfile.Seccomp.Arg], overApproximate: Bool = true) {
        var parts = conditions.map { ArgumentSet($0) }.sorted { $0.cubes.count < $1.cubes.count }
        var size = parts.reduce(1) { $0 * max($1.cubes.count, 1) }
        if size > Self.ruleCap {
            guard overApproximate else {
                self = .empty
                return
            }
            while size > Self.ruleCap, let dropped = parts.popLast() { size /= max(dropped.cubes.count, 1) }
        }
        self = parts.reduce(ArgumentSet.everything) { $0.intersection($1) }
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

    /// Cubes of `self` that no cube of `other` covers, up to `limit` of them; empty when `self ⊆ other`,
    /// nil when undecided within `budget` cube comparisons (callers then assume the worst: not a
    /// subset). The budget bounds the time a hostile profile can cost whoever compares it.
    ///
    /// Divide and conquer: a cube inside one of `other`'s is covered, a cube meeting none is not,
    /// and any other cube is split in two on a bit some cube of `other` it meets fixes (the highest
    /// first, which follows the aligned blocks intervals are made of). The 0 half is searched
    /// first, so the first uncovered cubes found hold small values: readable examples.
    func uncovered(by other: ArgumentSet, limit: Int = 1, budget: Int = 2_000_000) -> [Cube]? {
        var out: [Cube] = []
        var steps = 0
        var stack: [(cube: Cube, candidates: [Cube])] = cubes.reversed().map { ($0, other.cubes) }
        while let (a, candidates) = stack.popLast() {
            steps += 1 + candidates.count
            if steps > budget { return nil }
            let hits = candidates.filter { a.intersection($0) != nil }
            if hits.isEmpty {
                out.append(a)
                if out.count >= limit { return out }
                continue
            }
            if hits.contains(where: { a.isSubset(of: $0) }) { continue }
            var split: (index: Int, bit: UInt64)?
            for i in 0..<6 {
                var fixed: UInt64 = 0
                for b in hits { fixed |= b.mask[i] }
                fixed &= ~a.mask[i]
                if fixed != 0 {
                    split = (i, UInt64(1) << UInt64(63 - fixed.leadingZeroBitCount))
                    break
                }
            }
            // Unreachable: a cube meeting `b` with every bit `b` fixes fixed too lies inside `b`.
            guard let split else { continue }
            var one = a
            one.mask[split.index] |= split.bit
            one.bits[split.index] |= split.bit
            var zero = a
            zero.mask[split.index] |= split.bit
            stack.append((one, hits))
            stack.append((zero, hits))
        }
        return out
    }

    /// True when every tuple of `self` is in `other` (false when undecided within the budget).
    func isSubset(of other: ArgumentSet) -> Bool {
        uncovered(by: other)?.isEmpty ?? false
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

    /// Whether some tuple has argument `index` outside `values`; with `lowHalfOnly`, judged on
    /// the low 32 bits (an argument the kernel reads as an `int`: the upper half is never seen).
    func admits(index: Int, outside values: [UInt64], lowHalfOnly: Bool = false) -> Bool {
        let compared: UInt64 = lowHalfOnly ? 0xFFFF_FFFF : ~0
        let points = ArgumentSet(
            cubes: values.map {
                var c = Cube.any
                c.mask[index] = compared
                c.bits[index] = $0 & compared
                return c
            }
        )
        return !isSubset(of: points)
    }
}
