import WUCommandLine
import WUClient
import WURunner

/// What the orchestrator's refusals mean to a requester: the line `wu` prints and its status.
enum OrchestratorErrorText {
    static func explain(_ error: any Error) -> ProgramError? {
        guard let error = error as? ClientError else { return nil }
        if error.code == "untrusted-key" {
            // The orchestrator's own message speaks of `--trust`, which only `wu verify` and `wu run` have.
            let key = keyID(in: error.message).map { "key \($0)" } ?? "its key"
            return ProgramError(
                "the orchestrator does not accept bundles signed by \(key): ask its operator to run `wu-orchestrator keys add --name NAME YOUR.pub` with your public key",
                status: ProgramError.Status.refused
            )
        }
        if error.status == 401 {
            return ProgramError(
                "the orchestrator refused the token: give a live one with --token or WU_TOKEN (an operator makes one with `wu-orchestrator token create`)",
                status: ProgramError.Status.refused
            )
        }
        if error.status == 403 { return ProgramError(error.description, status: ProgramError.Status.refused) }
        return ProgramError(error.description, status: ProgramError.Status.failure)
    }

    /// The key id in "… signed by key ab12…, which …".
    static func keyID(in message: String) -> String? {
        guard let range = message.firstRange(of: "signed by key ") else { return nil }
        let id = message[range.upperBound...].prefix { $0.isLetter || $0.isNumber }
        return id.isEmpty ? nil : String(id)
    }
}
