import FoundationEssentials
import Testing
import WUCore
import WUProtocol
import WUTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `serve --tls-cert/--tls-key` with a private CA made here, and every client that speaks to it:
/// the runner and `wu` with `--ca`, a browser's session cookie, and the ones that must refuse.
@Suite(.serialized, .enabled(if: isRoot, "runners need root for namespaces and cgroups"))
struct TLSTests {
    @Test func aJobCompletesOverTLSAndClientsCheckTheCertificate() async throws {
        let cluster = try await Cluster(label: "tls", tls: true)
        defer { cluster.shutdown() }
        let ca = try #require(cluster.certificates).caFile
        #expect(cluster.orchestrator?.output.contains("listening on https://") == true, "\(cluster.logs())")
        for name in ["t1", "t2"] { try cluster.startRunner(name: name) }
        let bundle = try cluster.bundle(
            "tls-job",
            spec: #"{"name": "tls", "command": ["/bin/sh", "-c", "echo over-tls > /out/r"], "units": [{"id": "u"}], "redundancy": {"replicas": 2, "quorum": 2}}"#,
            files: ["code/.keep": ""]
        )
        let job = try await cluster.submit(bundle)
        let view = try await cluster.waitForJob(job)
        #expect(view.state == "completed", "\(view.failureReasons)\n\(cluster.logs())")

        let env = ["WU_ORCHESTRATOR": cluster.url, "WU_TOKEN": cluster.requesterToken]
        let trusted = try wu(["status", job, "--ca", ca], environment: env, in: cluster.directory)
        #expect(trusted.status == 0 && trusted.output.contains("completed"), "\(trusted.output)")
        // Without the CA the system's roots do not know this certificate: one line saying what to do.
        let untrusted = try wu(["status", job], environment: env, in: cluster.directory)
        #expect(untrusted.status == 1 && untrusted.output.contains("not trusted") && untrusted.output.contains("--ca"), "\(untrusted.output)")
        #expect(untrusted.output.split(separator: "\n").count == 1, "\(untrusted.output)")
    }

    /// Over TLS the session cookie is `Secure`, so a browser never sends it in clear text.
    @Test func theSessionCookieIsSecureOverTLS() async throws {
        let cluster = try await Cluster(label: "tls-cookie", tls: true)
        defer { cluster.shutdown() }
        let ca = try #require(cluster.certificates).caFile
        let curl = try ChildProcess(
            [
                "/usr/bin/curl", "-sS", "-i", "--cacert", ca, "-X", "POST", "-H", "Content-Type: application/json", "-H", "Origin: \(cluster.url)",
                "--data", #"{"token":"\#(cluster.requesterToken)"}"#, cluster.url + "/v1/session",
            ],
            log: cluster.directory + "/curl.log"
        )
        #expect(curl.wait() == 0, "\(curl.output)")
        let cookie = curl.output.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie:") }.map(String.init) ?? ""
        #expect(cookie.contains("wu_session=") && cookie.contains("Secure") && cookie.contains("HttpOnly"), "\(curl.output)")
    }

    /// `serve` refuses half a TLS setup and a file that is not a certificate, before it listens.
    @Test func serveRefusesABadTLSSetup() throws {
        let directory = "/tmp/wu-tls-flags-\(getpid())"
        try FileIO.makeDirectories(directory)
        defer { FileIO.removeTree(directory) }
        let certificates = try TestCertificates(in: directory)
        let data = ["--data-dir", directory + "/data", "--listen", "127.0.0.1:\(Cluster.freePort())"]
        _ = try KeyFiles.generate(prefix: directory + "/not-a-cert")
        let cases: [([String], [String])] = [
            (["--tls-cert", certificates.certificateFile], ["--tls-cert", "--tls-key"]),
            (["--tls-cert", directory + "/not-a-cert.pub", "--tls-key", certificates.keyFile], ["--tls-cert", "not-a-cert.pub", "PEM"]),
            (["--tls-cert", certificates.certificateFile, "--tls-key", certificates.caFile], ["--tls-key", "PEM"]),
        ]
        _ = try run(binDirectory + "/wu-orchestrator", ["token", "create", "--role", "admin", "--name", "op", "--init"] + data.prefix(2), in: directory)
        for (flags, words) in cases {
            let r = try run(binDirectory + "/wu-orchestrator", ["serve"] + data + flags, in: directory)
            #expect(r.status == 2 && words.allSatisfy { r.output.contains($0) } && r.output.split(separator: "\n").count == 1, "\(flags): \(r.output)")
        }
    }

    func wu(_ arguments: [String], environment: [String: String], in directory: String) throws -> (status: Int32?, output: String) {
        try run(binDirectory + "/wu", arguments, environment: environment, in: directory)
    }

    func run(_ program: String, _ arguments: [String], environment: [String: String] = [:], in directory: String) throws -> (status: Int32?, output: String) {
        let process = try ChildProcess([program] + arguments, log: directory + "/run-\(UInt32.random(in: 0...UInt32.max)).log", environment: environment)
        let status = process.wait(seconds: 60)
        return (status, process.output)
    }
}
