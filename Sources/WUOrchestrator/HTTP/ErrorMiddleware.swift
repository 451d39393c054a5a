import HTTPTypes
import Hummingbird
import Logging

/// Turns every error into the API's JSON shape; anything unexpected becomes a logged 500.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = OrchestratorRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            let code =
                switch error.status {
                case .notFound: "not-found"
                case .methodNotAllowed: "method-not-allowed"
                case .contentTooLarge: "too-large"
                case .unauthorized: "unauthorized"
                default: error.status.code < 500 ? "invalid-request" : "internal"
                }
            throw APIError(error.status, code, error.body ?? error.status.reasonPhrase)
        } catch let error as DecodingError {
            throw APIError(.badRequest, "invalid-json", describe(error))
        } catch is CancellationError {
            throw APIError(.serviceUnavailable, "shutting-down", "the request was cancelled")
        } catch {
            context.logger.error("unexpected error", metadata: ["error": "\(error)"])
            throw APIError(.internalServerError, "internal", "an internal error occurred")
        }
    }
}

/// A short description of a decoding error for the API's answer.
func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
        let p = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return p.isEmpty ? "the body" : "'\(p)'"
    }
    switch error {
    case .typeMismatch(let type, let context): return "\(path(context)) has the wrong type (expected \(type))"
    case .valueNotFound(_, let context): return "\(path(context)) must not be null"
    case .keyNotFound(let key, let context):
        let prefix = context.codingPath.isEmpty ? "" : path(context) + "."
        return "missing field '\(prefix)\(key.stringValue)'"
    case .dataCorrupted(let context):
        if context.codingPath.isEmpty { return "the body is not valid JSON" }
        return "\(path(context)): \(context.debugDescription)"
    @unknown default: return "the body could not be decoded"
    }
}
