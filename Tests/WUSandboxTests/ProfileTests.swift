import Glibc
import Testing
import WUCore

@testable import WUProfiles
@testable import WUSandbox

@Suite struct ProfileTests {
    /// The directory of `sandbox-profiles/`, found from this source file.
    static let profileDirectory: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path + "/sandbox-profiles"
    }()

    @Test func builtinProfilesMatchTheFilesOnDisk() throws {
        for name in SandboxProfile.builtinNames {
            let file = try #require(FileSystem.readText(Self.profileDirectory + "/" + name + ".json"))
            let embedded = try #require(SandboxProfile.builtinSource(named: name))
            #expect(file.trimmingWhitespace() == embedded.trimmingWhitespace(), "run sandbox-profiles/generate-builtin.sh")
        }
        #expect(SandboxProfile.builtinNames.contains("default"))
        #expect(SandboxProfile.builtinNames.contains("strict"))
    }

    /// A profile whose seccomp section is changed in memory loses its source bytes, and with them
    /// its cache key: it never gets the filter cached for the text it was read from.
    @Test func changingTheSeccompSectionForgetsTheSource() throws {
        let stock = try SandboxProfile.load(named: "default")
        var changed = stock
        changed.seccomp.syscalls.removeAll { $0.names.contains("write") }
        #expect(changed.sourceBytes.isEmpty)
        #expect(!stock.sourceBytes.isEmpty)
        let stockFilter = try SeccompFilter.compile(stock, cacheDirectory: nil)
        let changedFilter = try SeccompFilter.compile(changed, cacheDirectory: nil)
        #expect(changedFilter.bytes != stockFilter.bytes)
        #expect(changedFilter == (try SeccompFilter.compileNow(changed.seccomp, origin: "changed")))
    }

    /// The filter cache's key of a built-in profile is its digest from generation time: it must be
    /// the digest of exactly its text, and of nothing else.
    @Test func builtinDigestsAreThoseOfTheirText() throws {
        for name in SandboxProfile.builtinNames {
            let text = Array(try #require(SandboxProfile.builtinSource(named: name)).utf8)
            let digest = try #require(SandboxProfile.builtinSHA256(of: text, named: name), "run sandbox-profiles/generate-builtin.sh")
            #expect(digest == Digest.sha256(text))
            #expect(SandboxProfile.builtinSHA256(of: text + [0x20], named: name) == nil)
            #expect(SandboxProfile.builtinSHA256(of: Array(text.dropLast()) + [0x7e], named: name) == nil)
            #expect(SandboxProfile.builtinSHA256(of: text, named: name == "default" ? "strict" : "default") == nil)
        }
    }

    @Test(arguments: ["default", "strict"]) func builtinProfilesParseAndCompile(name: String) throws {
        let profile = try SandboxProfile.load(named: name)
        #expect(profile.name == name)
        #expect(Set(profile.namespaces) == Set(SandboxProfile.Namespace.allCases))
        #expect(profile.seccomp.defaultAction == .errno)
        let filter = try SeccompFilter.compileNow(profile.seccomp, origin: name)
        #expect(filter.bytes.count > 0 && filter.bytes.count % 8 == 0)
    }

    @Test func defaultProfileDeniesHostileSyscalls() throws {
        let profile = try SandboxProfile.load(named: "default")
        let allowed = Set(profile.seccomp.syscalls.filter { $0.action == .allow }.flatMap(\.names))
        for name in [
            "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "ptrace", "process_vm_readv", "process_vm_writev", "bpf",
            "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "io_uring_setup", "init_module", "finit_module",
            "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "clock_settime", "settimeofday", "clone3",
        ] {
            #expect(!allowed.contains(name), "\(name) must not be allowed")
        }
    }

    func parseError(_ json: String) -> String {
        do {
            _ = try SandboxProfile.parse(Array(json.utf8), origin: "test.json")
            return "no error"
        } catch {
            #expect(error.code == .invalidProfile)
            return error.message
        }
    }

    func validJSON(patch: (inout String) -> Void) throws -> String {
        var text = try #require(SandboxProfile.builtinSource(named: "default"))
        patch(&text)
        return text
    }

    @Test func unknownKeyIsNamed() throws {
        let json = try validJSON { $0 = $0.replacingFirst("\"network\": \"none\",", with: "\"network\": \"none\", \"netwrk\": 1,") }
        #expect(parseError(json).contains("unknown key \"netwrk\""))
    }

    @Test func unknownSyscallIsNamed() throws {
        let json = try validJSON { $0 = $0.replacingFirst("\"accept\",", with: "\"acept\",") }
        let message = parseError(json)
        #expect(message.contains("unknown syscall 'acept'"))
        #expect(message.contains("seccomp.syscalls[0].names"))
    }

    @Test func malformedProfilesAreRejected() throws {
        #expect(parseError("{").contains("not valid JSON"))
        #expect(parseError(try validJSON { $0 = $0.replacingFirst("\"SCMP_ACT_ERRNO\"", with: "\"SCMP_ACT_ALLOW\"") }).contains("must deny"))
        #expect(parseError(try validJSON { $0 = $0.replacingFirst("\"cgroup\"", with: "\"ipc\"") }).contains("'cgroup' is missing"))
        #expect(
            parseError(try validJSON { $0 = $0.replacingFirst("\"SCMP_CMP_MASKED_EQ\"", with: "\"SCMP_CMP_SOMETIMES\"") }).contains(
                "unknown operator"
            )
        )
        #expect(
            parseError(try validJSON { $0 = $0.replacingFirst("\"source\": \"/usr\"", with: "\"source\": \"/usr\", \"target\": \"/out\"") }).contains(
                "reserved"
            )
        )
        #expect(
            parseError(try validJSON { $0 = $0.replacingFirst("\"max_memory\": \"64G\"", with: "\"max_memory\": \"lots\"") }).contains(
                "limits.max_memory"
            )
        )
        #expect(
            parseError(try validJSON { $0 = $0.replacingFirst("\"defaultErrnoRet\": 1", with: "\"defaultErrnoRet\": 5000") }).contains(
                "seccomp.defaultErrnoRet: must be ≤ 4095"
            )
        )
    }

    @Test func limitsAboveTheProfileAreRefused() async throws {
        let sandbox = try Sandbox(profile: SandboxProfile.load(named: "strict"), cap: VolunteerCap.unlimited())
        for limits in [
            SandboxRequest.Limits(memoryBytes: 128 << 30), SandboxRequest.Limits(pids: 65), SandboxRequest.Limits(millicpus: 65_000),
            SandboxRequest.Limits(wallTimeMs: 25 * 3_600_000),
        ] {
            do {
                _ = try await sandbox.run(SandboxRequest(command: ["/bin/true"], limits: limits))
                Issue.record("limits \(limits) were accepted")
            } catch {
                #expect(error.code == .invalidLimits)
                #expect(error.message.contains("'strict' profile's maximum"))
            }
        }
    }

    @Test func unknownProfileIsAnError() {
        #expect(throws: SandboxError.self) { try SandboxProfile.load(named: "no-such-profile") }
        #expect(throws: SandboxError.self) { try SandboxProfile.load(named: "../etc/passwd") }
    }

    @Test func profileDirectoryOverridesBuiltins() throws {
        let dir = "/tmp/wu-profile-dir-\(getpid())"
        try FileSystem.makeDirectories(dir)
        defer { FileSystem.removeTree(dir) }
        let text = try validJSON { $0 = $0.replacingFirst("\"hostname\": \"wu\"", with: "\"hostname\": \"custom\"") }
        try FileSystem.writeFile(dir + "/default.json", Array(text.utf8))
        #expect(try SandboxProfile.load(named: "default", directory: dir).hostname == "custom")
        #expect(try SandboxProfile.load(named: "strict", directory: dir).hostname == "wu")
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let r = range(of: target) else { return self }
        var copy = self
        copy.replaceSubrange(r, with: replacement)
        return copy
    }
}

extension StringProtocol {
    func range(of target: String) -> Range<Index>? {
        guard !target.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(target) { return i..<index(i, offsetBy: target.count) }
            i = index(after: i)
        }
        return nil
    }
}
