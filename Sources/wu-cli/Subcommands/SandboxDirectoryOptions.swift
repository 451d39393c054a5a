import ArgumentParser

/// The host directories behind a sandboxed command's `/code`, `/in` and `/out`, and its working
/// directory: shared by `wu sandbox exec` and `wu profile learn`.
struct SandboxDirectoryOptions: ParsableArguments {
    @Option(help: "Host directory bound read-write at /out.")
    var out: String?

    @Option(help: "Host directory bound read-only at /code.")
    var code: String?

    @Option(name: .customLong("in"), help: "Host directory bound read-only at /in.")
    var input: String?

    @Option(help: "Working directory inside the sandbox (default /code when --code is given, else /).")
    var workdir: String?
}
