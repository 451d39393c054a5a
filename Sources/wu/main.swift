// `wu`: the lean front of the command line.
//
// `wu sandbox exec …` is started once per unit by scripts and benchmarks, and its whole job takes a
// few milliseconds: this binary links only the sandbox (no NIO, HTTP client, ArgumentParser or full
// Foundation, whose loading, relocation and start cost more than the sandbox itself) and runs the
// plain form of that command on the main thread. Every other command, `--help` and any argument
// list `SandboxExecCommand.parse` declines are handed, unchanged, to `wu-cli` (the full command
// line, installed beside this binary) with execve.
import Glibc
import WUSandbox

// argv by hand: `CommandLine.arguments` builds its array through an unspecialized generic map, whose
// metadata a fresh process instantiates at runtime.
var arguments: [String] = []
arguments.reserveCapacity(Int(CommandLine.argc))
for i in 0..<Int(CommandLine.argc) {
    if let p = CommandLine.unsafeArgv[i] { arguments.append(String(cString: p)) }
}
// _exit: everything was written with write(2); no atexit handler or static destructor has work to do.
if let options = SandboxExecCommand.parse(arguments) { _exit(SandboxExecCommand.run(options)) }

var candidates: [String] = []
var buffer = [CChar](repeating: 0, count: 4096)
let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
if n > 0 {
    let exe = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    if let slash = exe.lastIndex(of: "/") { candidates.append(String(exe[..<slash]) + "/wu-cli") }
}
let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
for path in candidates { execv(path, argv) }
execvp("wu-cli", argv)  // not beside us: the PATH
var message = "wu: error: cannot start wu-cli (expected beside \(candidates.first ?? "this binary")): \(String(cString: strerror(errno))); install the two side by side\n"
message.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
exit(1)
