import WUCommandLine
import WUClient
import WURunner

/// The orchestrator's refusals as a volunteer reads them.
enum RunnerErrorText {
    static func explain(_ error: any Error) -> ProgramError? {
        guard let error = error as? ClientError else { return nil }
        if error.status == 401 || error.status == 403 {
            return ProgramError(
                "the orchestrator refused the token (\(error.message)): give a live runner token with --token or WU_TOKEN (`wu-orchestrator token create --role runner --name NAME`)",
                status: ProgramError.Status.refused
            )
        }
        return ProgramError(error.description)
    }
}
