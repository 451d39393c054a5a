import WUCore

/// A private CA and a certificate it signed for 127.0.0.1, made with the `openssl` command in a
/// test's own directory: what an operator of a private pool does before `serve --tls-cert`.
public struct TestCertificates: Sendable {
    public let caFile: String
    public let certificateFile: String
    public let keyFile: String

    public init(in directory: String) throws {
        caFile = directory + "/ca.pem"
        certificateFile = directory + "/server.pem"
        keyFile = directory + "/server.key"
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try Self.openssl(["req", "-x509"] + ec + ["-keyout", directory + "/ca.key", "-out", caFile, "-days", "2", "-subj", "/CN=wu test CA"], in: directory)
        try Self.openssl(["req"] + ec + ["-keyout", keyFile, "-out", directory + "/server.csr", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], in: directory)
        try Self.openssl(
            [
                "x509", "-req", "-in", directory + "/server.csr", "-CA", caFile, "-CAkey", directory + "/ca.key", "-CAcreateserial",
                "-out", certificateFile, "-days", "2", "-copy_extensions", "copyall",
            ],
            in: directory
        )
    }

    static func openssl(_ arguments: [String], in directory: String) throws {
        let process = try ChildProcess(["/usr/bin/openssl"] + arguments, log: directory + "/openssl.log")
        guard process.wait() == 0 else { throw WUError(.io, "openssl \(arguments.first ?? "") failed: \(process.output)") }
    }
}
