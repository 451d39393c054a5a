import CSandbox

/// Thin Swift calls over CSandbox that do not belong to one type.
enum CSandboxBridge {
    static func stageName(_ stage: Int32) -> String {
        String(cString: wu_sandbox_stage_name(stage))
    }
}
