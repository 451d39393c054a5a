import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import NIOSSL
import WUCore

/// How the orchestrator serves: HTTP/1.1, inside TLS when `serve` is given a certificate and key.
extension Orchestrator {
    func serverBuilder() throws -> HTTPServerBuilder {
        let http = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .seconds(Int64(config.idleTimeoutSeconds))))
        guard let files = config.tls else { return http }
        return try .tls(http, tlsConfiguration: Self.serverTLS(files))
    }

    /// TLS 1.2 or later with the operator's chain and key, read once at start so a bad file is
    /// one error line before the server listens, not a failed handshake per client.
    static func serverTLS(_ files: OrchestratorConfiguration.TLSFiles) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificateChain)
        } catch {
            throw WUError(.invalidArgument, "--tls-cert \(files.certificateChain) is not a readable PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw WUError(.invalidArgument, "--tls-cert \(files.certificateChain) holds no certificate") }
        do {
            key = try NIOSSLPrivateKey(file: files.privateKey, format: .pem)
        } catch {
            throw WUError(.invalidArgument, "--tls-key \(files.privateKey) is not a readable PEM private key (\(error))")
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        return tls
    }

    /// The session cookie: HttpOnly and SameSite=Strict always, and Secure when served over TLS so
    /// a browser never sends it in clear text.
    func sessionCookie(value: String, maxAge: Int) -> Cookie {
        Cookie(name: AuthMiddleware.cookieName, value: value, maxAge: maxAge, path: "/", secure: config.tls != nil, httpOnly: true, sameSite: .strict)
    }
}
