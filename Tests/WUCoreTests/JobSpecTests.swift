import Testing
@testable import WUCore

@Suite struct JobSpecTests {
    func parse(_ json: String) throws -> JobSpec { try JobSpec.parse(Array(json.utf8)) }

    @Test func parsesACompleteSpec() throws {
        let spec = try parse(
            #"{"name": "wc", "version": "2", "command": ["/usr/bin/python3", "count.py"], "env": {"A": "1"}, "profile": "strict", "resources": {"cpus": 0.5, "memory": "128M", "disk": "1G", "wall_time": "2m", "pids": 8, "gpus": 1, "arch": "x86_64"}, "units": {"split": "inputs/*.txt", "args": ["-v"]}, "redundancy": {"replicas": 3, "quorum": 2}, "aggregate": {"command": ["sum"]}}"#
        )
        #expect(spec.resources == Manifest.Resources(millicpus: 500, memoryBytes: 128 << 20, diskBytes: 1 << 30, wallTimeMs: 120_000, pids: 8, gpus: 1, arch: "x86_64"))
        #expect(spec.units == .split(pattern: "inputs/*.txt", args: ["-v"]))
        #expect(spec.redundancy == Manifest.Redundancy(replicas: 3, quorum: 2))
        #expect(spec.profile == "strict")
        #expect(spec.aggregate?.command == ["sum"])
    }

    @Test func appliesDefaults() throws {
        let spec = try parse(#"{"name": "x", "command": ["/bin/true"], "units": [{"id": "a"}]}"#)
        #expect(spec.profile == "default")
        #expect(spec.resources == Manifest.Resources())
        #expect(spec.redundancy == Manifest.Redundancy(replicas: 1, quorum: 1))
    }

    /// Every way `wu.json` can be wrong, with the field the error must name.
    @Test(arguments: [
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "colour": 1}"#, "unknown key 'colour'"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "resources": {"mem": "1G"}}"#, "unknown key 'resources.mem'"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a", "input": []}]}"#, "unknown key"),
        (#"{"command": ["a"], "units": [{"id": "a"}]}"#, "name is missing"),
        (#"{"name": "x", "units": [{"id": "a"}]}"#, "command is missing"),
        (#"{"name": "x", "command": ["a"]}"#, "units is missing"),
        (#"{"name": "bad name!", "command": ["a"], "units": [{"id": "a"}]}"#, "name must be"),
        (#"{"name": "x", "command": [], "units": [{"id": "a"}]}"#, "command must be a non-empty array"),
        (#"{"name": "x", "command": "run.sh", "units": [{"id": "a"}]}"#, "command has the wrong type"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "resources": {"memory": "lots"}}"#, "resources.memory"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "resources": {"memory": 5}}"#, "resources.memory has the wrong type"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "resources": {"memory": "1K"}}"#, "resources.memory must be at least"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "resources": {"cpus": 0}}"#, "resources.cpus"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "resources": {"wall_time": "soon"}}"#, "resources.wall_time"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "resources": {"pids": 0}}"#, "resources.pids"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "resources": {"gpus": -1}}"#, "resources.gpus"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "resources": {"disk": "x"}}"#, "resources.disk"),
        (#"{"name": "x", "command": ["a"], "units": []}"#, "units is an empty list"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}, {"id": "a"}]}"#, "used twice"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "aggregate"}]}"#, "reserved"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "../up"}]}"#, "units[0].id"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a", "inputs": ["../etc/passwd"]}]}"#, "under inputs/"),
        (#"{"name": "x", "command": ["a"], "units": {"split": "/etc/*"}}"#, "units.split"),
        (#"{"name": "x", "command": ["a"], "units": {"glob": "inputs/*"}}"#, "unknown key 'units.glob'"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "redundancy": {"replicas": 2, "quorum": 3}}"#, "redundancy.quorum"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "redundancy": {"replicas": 0}}"#, "redundancy.replicas"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "env": {"WU_JOB_ID": "1"}}"#, "reserved"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "env": {"1A": "1"}}"#, "not a valid variable name"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "aggregate": {"command": []}}"#, "aggregate.command"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "profile": "../../etc"}"#, "profile must be"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}"#, "wu.json: line 1, column 54: expected ',' or ']'"),
        (#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "resources": {"pids": 1e30}}"#, "line 1, column 79: resources.pids: 1e30 is out of range"),
    ])
    func namesTheBadField(json: String, fragment: String) {
        expectWUError(.invalidJobSpec, containing: fragment) { _ = try parse(json) }
    }

    @Test func onUnitFailureIsAChoiceOfTwo() throws {
        #expect(try parse(#"{"name": "x", "command": ["a"], "units": [{"id": "a"}]}"#).onUnitFailure == .failJob)
        #expect(try parse(#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "on_unit_failure": "continue"}"#).onUnitFailure == .continue)
        #expect(throws: WUError.self) { try parse(#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "on_unit_failure": "ignore"}"#) }
        do {
            _ = try parse(#"{"name": "x", "command": ["a"], "units": [{"id": "a"}], "on_unit_failure": "ignore"}"#)
        } catch let error as WUError {
            #expect(error.message.contains(#"on_unit_failure must be "fail-job" or "continue", got 'ignore'"#), "\(error.message)")
        }
    }

    @Test func aProfileNameMustBeKnownWhenTheKnownOnesAreGiven() throws {
        let spec = try parse(#"{"name": "x", "command": ["a"], "profile": "stirct", "units": [{"id": "a"}]}"#)
        #expect(throws: WUError.self) { try spec.checkProfileName(known: ["default", "strict"]) }
        try parse(#"{"name": "x", "command": ["a"], "profile": "strict", "units": [{"id": "a"}]}"#).checkProfileName(known: ["default", "strict"])
        #expect(JobSpec.editDistance("stirct", "strict") == 2)
        #expect(JobSpec.editDistance("", "abc") == 3)
        #expect(JobSpec.editDistance("default", "default") == 0)
    }
}
