public import WUCore

extension SandboxRequest {
    /// The request for one unit of a manifest, or for its aggregate when `unit` is nil: the unit
    /// view of docs/formats.md, shared by `wu run` and the runner.
    ///
    /// argv is the manifest's `command` plus the unit's `args` (the aggregate's own `command`); the
    /// environment is the manifest's `env` plus `WU_JOB_ID`, `WU_UNIT_ID` and `WU_PROGRESS`; the working
    /// directory is `/code`; the limits are the manifest's resources.
    public static func forUnit(
        of manifest: Manifest, unit: Manifest.Unit?, jobID: String, code: String, input: String, output: String, progress: String
    ) -> SandboxRequest {
        var environment = manifest.env
        environment["WU_JOB_ID"] = jobID
        environment["WU_UNIT_ID"] = unit?.id ?? "aggregate"
        environment["WU_PROGRESS"] = "/run/wu/progress"
        let command = unit.map { manifest.command + $0.args } ?? manifest.aggregate?.command ?? manifest.command
        let r = manifest.resources
        return SandboxRequest(
            command: command, environment: environment, workingDirectory: "/code", codeDirectory: code, inputDirectory: input,
            outputDirectory: output, progressFile: progress,
            limits: .init(memoryBytes: r.memoryBytes, millicpus: r.millicpus, pids: r.pids, diskBytes: r.diskBytes, wallTimeMs: r.wallTimeMs)
        )
    }
}
