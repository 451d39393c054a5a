import Testing
@testable import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// The real `wu` binary: exit statuses and messages a requester sees.
@Suite struct CLITests {
    @Test func keygenPackVerifyInspectAndTamper() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let wu = wuBinary
        var r = try shell("cd \(tmp.path) && \(wu) keygen alice && \(wu) keygen bob")
        #expect(r.status == 0, "\(r.output)")
        r = try shell("\(wu) pack \(repositoryRoot)/bundles/hello -o \(tmp.path)/hello.wu --key \(tmp.path)/alice.key")
        #expect(r.status == 0 && r.output.contains("packed hello"), "\(r.output)")
        r = try shell("\(wu) verify \(tmp.path)/hello.wu --trust \(tmp.path)/alice.pub")
        #expect(r.status == 0 && r.output.hasPrefix("ok: hello"), "\(r.output)")
        r = try shell("\(wu) verify \(tmp.path)/hello.wu --trust \(tmp.path)/bob.pub")
        #expect(r.status == 3 && r.output.contains("not trusted"), "\(r.output)")
        r = try shell("\(wu) inspect \(tmp.path)/hello.wu")
        #expect(r.status == 0 && r.output.contains("greet args: world"), "\(r.output)")
        r = try shell("\(wu) inspect --json \(tmp.path)/hello.wu")
        #expect(r.status == 0 && r.output.contains("\"signer_key_id\""), "\(r.output)")

        // A flipped payload byte: exit 4 and the file named.
        var entries = try readEntries(tmp.path + "/hello.wu")
        entries[2].bytes[3] ^= 0x20
        try writeTar(entries, to: tmp.path + "/tampered.wu")
        r = try shell("\(wu) verify \(tmp.path)/tampered.wu --trust \(tmp.path)/alice.pub")
        #expect(r.status == 4 && r.output.contains("code/hello.sh has SHA-256"), "\(r.output)")

        r = try shell("\(wu) pack \(tmp.path)/nowhere -o \(tmp.path)/x.wu --key \(tmp.path)/alice.key")
        #expect(r.status != 0 && r.output.contains("nowhere"), "\(r.output)")
        r = try shell("\(wu) verify \(tmp.path)/hello.wu")
        #expect(r.status == 2 && r.output.contains("--trust"), "\(r.output)")
    }

    /// A job with a rootfs tar as its image (static busybox): `wu pack` pins it, `wu inspect` shows
    /// its layer and what wu uses of it, and a flipped layer byte fails `wu verify` with status 4.
    @Test func packInspectAndVerifyAnImagedJob() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let wu = wuBinary
        try tmp.file("job/wu.json", #"{"name": "imaged", "command": ["/bin/sh", "-c", "cat /etc/marker"], "image": "rootfs.tar", "units": [{"id": "u"}]}"#)
        try tmp.file("job/code/x", "x\n")
        try tmp.file("rootfs/etc/marker", "from the image\n")
        var r = try shell(
            "cd \(tmp.path) && \(wu) keygen alice && mkdir rootfs/bin && cp /bin/busybox rootfs/bin/ && ln -s busybox rootfs/bin/sh && tar -C rootfs -cf job/rootfs.tar ."
        )
        #expect(r.status == 0, "\(r.output)")
        r = try shell("\(wu) pack \(tmp.path)/job -o \(tmp.path)/imaged.wu --key \(tmp.path)/alice.key")
        #expect(r.status == 0, "\(r.output)")
        r = try shell("\(wu) verify \(tmp.path)/imaged.wu --trust \(tmp.path)/alice.pub")
        #expect(r.status == 0, "\(r.output)")
        r = try shell("\(wu) inspect \(tmp.path)/imaged.wu")
        #expect(r.status == 0 && r.output.contains("1 layer(s)") && r.output.contains(" tar ") && r.output.contains("used       only the layers"), "\(r.output)")

        var entries = try readEntries(tmp.path + "/imaged.wu")
        #expect(entries.map(\.name).filter { $0.hasPrefix("WU-IMAGE/sha256/") }.count == 2)
        entries[entries.count - 1].bytes[600] ^= 0x01
        try writeTar(entries, to: tmp.path + "/tampered.wu")
        r = try shell("\(wu) verify \(tmp.path)/tampered.wu --trust \(tmp.path)/alice.pub")
        #expect(r.status == 4 && r.output.contains("WU-IMAGE/sha256/") && r.output.contains("has SHA-256"), "\(r.output)")
    }

    /// `wu pack` checks a job's own profile with the full profile parser and refuses it naming the problem;
    /// a good one is packed, shown by `wu inspect` and compared by `wu profile check`.
    @Test func packChecksACarriedProfile() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let wu = wuBinary
        var r = try shell("cd \(tmp.path) && \(wu) keygen alice")
        #expect(r.status == 0, "\(r.output)")
        let strict = String(decoding: try FileIO.readFile(repositoryRoot + "/sandbox-profiles/strict.json"), as: UTF8.self)
        try tmp.file("job/wu.json", #"{"name": "own", "command": ["/bin/true"], "profile": {"file": "mine.json"}, "units": [{"id": "u"}]}"#)
        try tmp.file("job/code/x", "x\n")
        try tmp.file("job/mine.json", strict.replacing(#""names": ["#, with: #""names": ["frobnicate", "#))
        r = try shell("\(wu) pack \(tmp.path)/job -o \(tmp.path)/own.wu --key \(tmp.path)/alice.key")
        #expect(r.status != 0 && r.output.contains("mine.json: seccomp.syscalls[0].names: unknown syscall 'frobnicate'"), "\(r.output)")
        #expect(access(tmp.path + "/own.wu", F_OK) != 0)

        try tmp.file("job/mine.json", strict.replacing(#""name": "strict""#, with: #""name": "mine""#))
        r = try shell("\(wu) pack \(tmp.path)/job -o \(tmp.path)/own.wu --key \(tmp.path)/alice.key")
        #expect(r.status == 0, "\(r.output)")
        r = try shell("\(wu) inspect \(tmp.path)/own.wu")
        #expect(r.status == 0 && r.output.contains("profile    mine (carried in the bundle: WU-PROFILE.json"), "\(r.output)")
        r = try shell("\(wu) profile check \(tmp.path)/own.wu --runner-profiles strict")
        #expect(r.status == 0 && r.output.contains("allowed: grants nothing beyond 'strict'"), "\(r.output)")
    }

    /// README's statuses for local commands, each with one `wu: error:` line: a bad flag is invalid input (2,
    /// not ArgumentParser's 64), a missing bundle an I/O error (1, not a damaged bundle's 4), and a broken
    /// `wu.json` names the line and column, or the field whose number is out of range.
    @Test func localErrorsHaveOneLineAndTheDocumentedStatus() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let wu = wuBinary
        func oneLine(_ output: String) -> Bool { output.split(separator: "\n").count == 1 && output.hasPrefix("wu: error: ") }
        var r = try shell("\(wu) verify x.wu --frobnicate")
        #expect(r.status == 2 && oneLine(r.output) && r.output.contains("'--frobnicate'") && r.output.contains("wu verify --help"), "\(r.output)")
        r = try shell("cd \(tmp.path) && \(wu) keygen alice")
        #expect(r.status == 0, "\(r.output)")
        r = try shell("\(wu) verify \(tmp.path)/missing.wu --trust \(tmp.path)/alice.pub")
        #expect(r.status == 1 && oneLine(r.output) && r.output.contains("missing.wu: No such file or directory"), "\(r.output)")
        try tmp.file("job/code/x", "x\n")
        try tmp.file("job/wu.json", "{\n  \"name\": \"j\",\n  \"command\": [\"/bin/true\"],,\n  \"units\": [{\"id\": \"u\"}]\n}\n")
        r = try shell("\(wu) pack \(tmp.path)/job -o \(tmp.path)/j.wu --key \(tmp.path)/alice.key")
        #expect(r.status == 2 && oneLine(r.output) && r.output.contains("wu.json: line 3, column 28: expected a key in double quotes"), "\(r.output)")
        try tmp.file("job/wu.json", #"{"name": "j", "command": ["/bin/true"], "resources": {"pids": 1e30}, "units": [{"id": "u"}]}"#)
        r = try shell("\(wu) pack \(tmp.path)/job -o \(tmp.path)/j.wu --key \(tmp.path)/alice.key")
        #expect(r.status == 2 && oneLine(r.output) && r.output.contains("resources.pids: 1e30 is out of range"), "\(r.output)")
    }

    /// A profile name no runner knows would make the job wait forever: `wu pack` refuses it, naming the
    /// built-in ones; and `on_unit_failure` reaches the signed manifest.
    @Test func packRefusesAnUnknownProfileNameAndPinsOnUnitFailure() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let wu = wuBinary
        var r = try shell("cd \(tmp.path) && \(wu) keygen alice")
        #expect(r.status == 0, "\(r.output)")
        try tmp.file("job/code/x", "x\n")
        try tmp.file("job/wu.json", #"{"name": "t", "command": ["/bin/true"], "profile": "stirct", "units": [{"id": "u"}]}"#)
        r = try shell("\(wu) pack \(tmp.path)/job -o \(tmp.path)/t.wu --key \(tmp.path)/alice.key")
        #expect(r.status == 2, "\(r.output)")
        #expect(r.output.contains("profile 'stirct' is not a built-in profile (did you mean 'strict'?); the built-in ones are 'default', 'strict'"), "\(r.output)")
        #expect(!tmp.exists("t.wu"))

        try tmp.file("job/wu.json", #"{"name": "t", "command": ["/bin/true"], "profile": "strict", "on_unit_failure": "continue", "units": [{"id": "u"}]}"#)
        r = try shell("\(wu) pack \(tmp.path)/job -o \(tmp.path)/t.wu --key \(tmp.path)/alice.key && \(wu) inspect --json \(tmp.path)/t.wu")
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.split(separator: "\n").contains { $0.contains(#""on_unit_failure""#) && $0.contains(#""continue""#) }, "\(r.output)")
        r = try shell("\(wu) inspect \(tmp.path)/t.wu")
        #expect(r.output.contains("on failure continue (on_unit_failure)"), "\(r.output)")
    }
}
