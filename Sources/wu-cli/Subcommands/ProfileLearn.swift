import ArgumentParser
import Glibc
import WUCore
import WUProtocol
import WUSandbox

extension WU {
    /// `wu profile learn -o FILE -- CMD ARGS…`.
    struct ProfileLearn: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "learn",
            abstract: "Run a command once with every syscall recorded, and write the narrowest profile that runs it.",
            discussion: """
                The command runs in the base profile's sandbox (its namespaces, mounts, devices and limits) \
                under a filter that records every call: what the base allows is let through, what it denies \
                gets the base's errno, so the command runs as it will under the learned profile. The profile \
                written keeps the base's allow rules only for the syscalls the command made (argument \
                conditions included) and all of its deny rules, so it is never wider than the base: a call \
                the base denies is listed, not added. Check the result with `wu profile diff BASE FILE` and \
                `wu profile lint FILE`. Needs root. Exit status: 0 when the command succeeded, 1 when it \
                failed (the profile is still written), 125 when the sandbox could not run it.
                """
        )

        @Option(name: .shortAndLong, help: "Where to write the learned profile (JSON).")
        var output: String

        @Option(help: "The base profile: a name or a file.")
        var profile = "default"

        @Option(help: "Directory whose <name>.json overrides the built-in profiles.")
        var profileDir: String?

        @Option(help: "Name of the learned profile (default: the output file's name without .json).")
        var name: String?

        @OptionGroup var directories: SandboxDirectoryOptions

        @Option(help: "Memory limit, e.g. 256M.")
        var memory: String?

        @Option(help: "Wall-clock limit, e.g. 60s.")
        var wallTime: String?

        @Argument(parsing: .postTerminator, help: "The command and its arguments (after --).")
        var command: [String] = []

        mutating func validate() throws {
            if command.first == "--" { command.removeFirst() }
            guard !command.isEmpty else { throw ValidationError("give the command after --") }
            let learnedName = name ?? Self.defaultName(output)
            guard !learnedName.isEmpty, learnedName.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw ValidationError("profile name '\(learnedName)' must be letters, digits, '-' and '_' (give --name)")
            }
        }

        static func defaultName(_ path: String) -> String {
            var base = String(path.split(separator: "/").last ?? "")
            if base.hasSuffix(".json") { base.removeLast(5) }
            return base
        }

        func run() async throws {
            let learnedName = name ?? Self.defaultName(output)
            let (base, origin) = try SandboxProfile.load(reference: profile, directory: profileDir)
            let request = SandboxRequest(
                command: command,
                workingDirectory: directories.workdir ?? (directories.code != nil ? "/code" : "/"),
                codeDirectory: directories.code,
                inputDirectory: directories.input,
                outputDirectory: directories.out,
                limits: .init(
                    memoryBytes: try memory.map { try ByteSize.parse($0) },
                    wallTimeMs: try wallTime.map { try DurationText.parseMilliseconds($0) }
                ),
                echoOutput: true
            )
            let learning: ProfileLearning
            do {
                learning = try await ProfileLearning.learn(
                    request,
                    base: base,
                    cap: try VolunteerCap.shared(name: "exec"),
                    name: learnedName,
                    description: "Learned by wu profile learn from `\(command.joined(separator: " "))` on top of '\(base.name)'."
                )
            } catch {
                FileHandleLine.standardError("wu: error: profile learn: \(error)")
                throw ExitCode(125)
            }
            do {
                let fd = try FileIO.open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o644)
                defer { close(fd) }
                try Array(learning.profile.jsonText.utf8).withUnsafeBytes { try FileIO.writeAll(fd, $0, path: output) }
            } catch {
                FileHandleLine.standardError("wu: error: cannot write \(output): \(error)")
                throw ExitCode(125)
            }
            let allowed = learning.profile.seccomp.syscalls.filter { $0.action == .allow }.flatMap(\.names)
            FileHandleLine.standardError(
                "wu profile learn: \(learning.observed.count) distinct syscalls made; \(output) allows \(Set(allowed).count) (base \(origin))"
            )
            if !learning.deniedByBase.isEmpty {
                FileHandleLine.standardError(
                    "wu profile learn: denied by '\(base.name)', so not added: \(learning.deniedByBase.joined(separator: " "))"
                )
            }
            FileHandleLine.standardError("wu profile learn: compare with `wu profile diff \(profile) \(output)`")
            if !learning.usage.succeeded {
                let how = learning.usage.exitCode.map { "exited \($0)" } ?? "was killed by signal \(learning.usage.signal ?? 0)"
                FileHandleLine.standardError("wu profile learn: the command \(how); the profile covers only what it did until then")
                throw ExitCode(1)
            }
        }
    }
}
