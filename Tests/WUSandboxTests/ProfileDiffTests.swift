import Testing

@testable import WUProfiles
@testable import WUSandbox

@Suite struct ProfileDiffTests {
    static let base = ProfileFixture.json(
        name: "a",
        rules: #"""
            {"names": ["read", "write", "exit_group", "uname"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 21522, "op": "SCMP_CMP_LT"}]},
            {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 21522, "op": "SCMP_CMP_GT"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}
            """#
    )

    static let other = ProfileFixture.json(
        name: "b",
        mounts: #"[{"source": "/usr"}, {"source": "/usr/lib"}, {"source": "/home", "optional": true}]"#,
        devices: #"["null", "zero"]"#,
        limits:
            #"{"max_cpus": 1, "max_memory": "256M", "max_pids": 32, "max_disk": "1G", "max_wall_time": "1m", "open_files": 64, "tmp_size": "16M"}"#,
        environment: #"{"PATH": "/usr/bin", "LANG": "C.UTF-8"}"#,
        rules: #"""
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 21522, "op": "SCMP_CMP_NE"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            """#
    )

    @Test func diffOfFixturesLineByLine() throws {
        let diff = ProfileDiff(try ProfileFixture.parse(Self.base), try ProfileFixture.parse(Self.other))
        #expect(
            diff.lines == [
                "--- a",
                "+++ b",
                "b grants beyond a:",
                "  paths:",
                "    /home: read-only, optional",
                "  devices:",
                "    /dev/zero: bound from the host",
                "  limits:",
                "    max_pids: up to 32 (a: 16)",
                "  syscalls:",
                "    personality: always (a: persona == 0); e.g. personality(persona=1)",
                "    socket: if family == AF_UNIX",
                "    clone3: denied: fails with ENOSYS (a: fails with EPERM by default)",
                "  environment:",
                "    LANG=C.UTF-8",
                "a grants beyond b:",
                "  syscalls:",
                "    allowed: uname",
            ]
        )
    }

    @Test func noWiderIgnoresEnvironmentAndDenialsButNotGrants() throws {
        let a = try ProfileFixture.parse(Self.base)
        let b = try ProfileFixture.parse(Self.other)
        #expect(b.grants(beyond: a).map(\.section) == ["paths", "devices", "limits", "syscalls", "syscalls"])
        #expect(!b.isNoWider(than: a))
        #expect(a.grants(beyond: b).map(\.subject) == ["uname"])
        #expect(a.isNoWider(than: a) && b.isNoWider(than: b))
    }

    @Test func equalConditionsWrittenDifferentlyAreEqual() throws {
        // ioctl: request != TIOCSTI is exactly request < TIOCSTI or request > TIOCSTI.
        let lt = ProfileFixture.allowing(
            #"{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 21522, "op": "SCMP_CMP_LT"}]}, "#
                + #"{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 21522, "op": "SCMP_CMP_GT"}]}"#
        )
        let ne = ProfileFixture.allowing(
            #"{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 21522, "op": "SCMP_CMP_NE"}]}"#
        )
        let any = ProfileFixture.allow("ioctl")
        let (pLT, pNE, pAny) = (try ProfileFixture.parse(lt), try ProfileFixture.parse(ne), try ProfileFixture.parse(any))
        #expect(pLT.isNoWider(than: pNE) && pNE.isNoWider(than: pLT))
        #expect(pNE.isNoWider(than: pAny))
        let wider = pAny.grants(beyond: pNE)
        #expect(wider.map(\.text) == ["ioctl: always (tiny: request != TIOCSTI); e.g. ioctl(request=TIOCSTI)"])
    }

    @Test func aConditionOnASecondArgumentNarrows() throws {
        // socket(AF_INET, any type) is wider than socket(AF_INET, SOCK_STREAM), and not the reverse.
        let inet = ProfileFixture.allowing(
            #"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}"#
        )
        let stream = ProfileFixture.allowing(
            #"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]}"#
        )
        let (pInet, pStream) = (try ProfileFixture.parse(inet), try ProfileFixture.parse(stream))
        #expect(pStream.isNoWider(than: pInet))
        #expect(
            pInet.grants(beyond: pStream).map(\.text) == [
                "socket: family == AF_INET (tiny: family == AF_INET and type == 1); e.g. socket(family=AF_INET, type=0)"
            ]
        )
    }

    @Test func shippedStrictIsNarrowerThanDefault() throws {
        let d = try SandboxProfile.load(named: "default")
        let s = try SandboxProfile.load(named: "strict")
        // strict's clone rule requires CLONE_THREAD and excludes every CLONE_NEW* flag, as default's does.
        #expect(s.grants(beyond: d).isEmpty, "\(s.grants(beyond: d).map(\.text))")
        #expect(s.isNoWider(than: d))
        let back = d.grants(beyond: s)
        #expect(back.contains { $0.section == "limits" && $0.subject == "max_pids" })
        #expect(back.contains { $0.subject == "socket" } && back.contains { $0.subject == "fork" })
        #expect(d.isNoWider(than: d) && s.isNoWider(than: s))
    }

    @Test func aRequesterProfileIsAdmittedOnlyWithinAnAllowedOne() throws {
        let d = try SandboxProfile.load(named: "default")
        let s = try SandboxProfile.load(named: "strict")
        // Narrower than both: accepted within the first one given.
        let narrow = try ProfileFixture.parse(ProfileFixture.json(name: "mine"))
        #expect(narrow.admission(among: [s, d]) == .accepted(within: "strict"))
        // fork: within default, not within strict.
        let forking = try ProfileFixture.parse(ProfileFixture.allow("fork"))
        #expect(forking.admission(among: [s, d]) == .accepted(within: "default"))
        #expect(forking.grants(beyond: s).map(\.subject) == ["fork"])
        // One syscall more than either: refused, and the refusal names it.
        let wide = try ProfileFixture.parse(ProfileFixture.allow("ptrace"))
        let verdict = wide.admission(among: [d, s])
        guard case .refused(let extras) = verdict else {
            Issue.record("expected a refusal")
            return
        }
        #expect(extras.keys.sorted() == ["default", "strict"])
        #expect(extras["default"]?.map(\.subject) == ["ptrace"])
        #expect(
            verdict.message(profileName: "tiny")
                == "profile 'tiny' is wider than every profile this runner allows (beyond 'default': syscalls ptrace | beyond 'strict': syscalls ptrace)"
        )
        #expect(wide.admission(among: []) == .refused(beyond: [:]))
    }

    @Test func argumentSetIntervalsAndComplementsAreExact() {
        typealias Arg = SandboxProfile.Seccomp.Arg
        let ne = ArgumentSet(Arg(index: 1, value: 0x5412, valueTwo: 0, op: .ne))
        let lt = ArgumentSet(Arg(index: 1, value: 0x5412, valueTwo: 0, op: .lt))
        let gt = ArgumentSet(Arg(index: 1, value: 0x5412, valueTwo: 0, op: .gt))
        #expect(ne.isSubset(of: lt.union(gt)) && lt.union(gt).isSubset(of: ne))
        #expect(!ArgumentSet.everything.isSubset(of: ne))
        #expect(!ne.admits(index: 1, value: 0x5412) && ne.admits(index: 1, value: 0x1_0000_5412))
        let le = ArgumentSet(Arg(index: 0, value: 1000, valueTwo: 0, op: .le))
        let ge = ArgumentSet(Arg(index: 0, value: 1001, valueTwo: 0, op: .ge))
        #expect(ArgumentSet.everything.isSubset(of: le.union(ge)))
        #expect(le.intersection(ge).isEmpty)
        #expect(le.admits(index: 0, value: 1000) && !le.admits(index: 0, value: 1001))
        let masked = ArgumentSet(Arg(index: 0, value: 0x7E02_0080, valueTwo: 0, op: .maskedEq))
        #expect(!masked.admits(index: 0, set: 0x1000_0000))
        #expect(masked.admits(index: 0, value: 0x0001_0F00))
        #expect(ArgumentSet(Arg(index: 0, value: 1, valueTwo: 2, op: .maskedEq)).isEmpty)
    }

    @Test func aPathologicalRuleIsBoundedAndJudgedConservatively() throws {
        // Six != conditions would expand to 64^6 cubes; the comparison stays fast and never calls it narrower.
        let args = (0..<6).map { #"{"index": \#($0), "value": 7, "op": "SCMP_CMP_NE"}"# }.joined(separator: ", ")
        let hostile = try ProfileFixture.parse(
            ProfileFixture.allowing(#"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [\#(args)]}"#)
        )
        let d = try SandboxProfile.load(named: "default")
        let start = ContinuousClock.now
        #expect(hostile.grants(beyond: d).map(\.subject) == ["socket"])
        // As the reference it counts from below (empty), so even the same profile is not "within" it.
        #expect(!hostile.isNoWider(than: hostile))
        #expect(ProfileLint.lint(hostile).contains { $0.rule == "socket-families" })
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    /// The cube algebra against direct evaluation of the conditions: random rules on two
    /// arguments, every "not a subset" answer checked on its example, every "subset" answer
    /// checked on boundary and random values.
    @Test func subsetAnswersAgreeWithDirectEvaluation() {
        typealias Arg = SandboxProfile.Seccomp.Arg
        var rng = SplitMix(seed: 42)
        let ops: [SandboxProfile.Seccomp.Op] = [.eq, .ne, .lt, .le, .gt, .ge, .maskedEq]
        func holds(_ a: Arg, _ x: UInt64) -> Bool {
            switch a.op {
            case .eq: x == a.value
            case .ne: x != a.value
            case .lt: x < a.value
            case .le: x <= a.value
            case .gt: x > a.value
            case .ge: x >= a.value
            case .maskedEq: x & a.value == a.valueTwo
            }
        }
        func randomValue() -> UInt64 {
            switch rng.next() % 4 {
            case 0: rng.next() % 16
            case 1: UInt64.max - rng.next() % 4
            case 2: 1 << (rng.next() % 64)
            default: rng.next()
            }
        }
        func randomRules() -> [[Arg]] {
            (0..<(1 + Int(rng.next() % 3))).map { _ in
                (0..<2).compactMap { index in
                    rng.next() % 3 == 0
                        ? nil : Arg(index: index, value: randomValue(), valueTwo: rng.next() % 16, op: ops[Int(rng.next() % UInt64(ops.count))])
                }
            }
        }
        func contains(_ rules: [[Arg]], _ x: [UInt64]) -> Bool { rules.contains { $0.allSatisfy { holds($0, x[$0.index]) } } }
        func set(_ rules: [[Arg]]) -> ArgumentSet { rules.reduce(ArgumentSet.empty) { $0.union(ArgumentSet(conditions: $1)) } }
        for _ in 0..<200 {
            let a = randomRules()
            let b = randomRules()
            guard let extra = set(a).uncovered(by: set(b), limit: 4, budget: 100_000) else { continue }
            if let cube = extra.first {
                #expect(contains(a, cube.example) && !contains(b, cube.example), "\(a) \(b) \(cube.example)")
            } else {
                var probes: [[UInt64]] = []
                for r in a {
                    for c in r {
                        for v in [c.value, c.value &+ 1, c.value &- 1, c.valueTwo, 0, .max] {
                            probes.append(c.index == 0 ? [v, 0, 0, 0, 0, 0] : [0, v, 0, 0, 0, 0])
                        }
                    }
                }
                for _ in 0..<200 { probes.append([randomValue(), randomValue(), 0, 0, 0, 0]) }
                for x in probes where contains(a, x) { #expect(contains(b, x), "\(a) ⊆ \(b) fails at \(x)") }
            }
        }
    }
}

/// A small deterministic generator for the property test.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
