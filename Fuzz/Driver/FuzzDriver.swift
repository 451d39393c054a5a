import WUFuzz

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's entry when linked without its own `main` (`libclang_rt.fuzzer_no_main`): SwiftPM names an
/// executable's `main` itself, so the driver is an ordinary `@main` that hands over to libFuzzer.
@_silgen_name("LLVMFuzzerRunDriver")
func runLibFuzzer(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// Where a `wu-fuzz` process finds its target once argv no longer names it.
let targetVariable = "WU_FUZZ_TARGET"

/// The target this process fuzzes: set once, before libFuzzer starts calling back.
nonisolated(unsafe) var selectedTarget = FuzzTarget.manifest

/// `wu-fuzz TARGET [libFuzzer options] [CORPUS_DIR...]`, built and run by `make fuzz` (docs/fuzzing.md).
@main
struct FuzzDriver {
    static func main() {
        var arguments = CommandLine.arguments
        // libFuzzer parses the command line as its own, and re-runs it for -merge and -jobs: the
        // target leaves argv and travels in the environment, which those children inherit.
        if arguments.count >= 2, FuzzTarget(rawValue: arguments[1]) != nil {
            setenv(targetVariable, arguments.remove(at: 1), 1)
        }
        guard let name = getenv(targetVariable), let target = FuzzTarget(rawValue: String(cString: name)) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            let usage = "usage: wu-fuzz TARGET [libFuzzer options] [CORPUS_DIR...]; targets: \(names)\n"
            usage.withCString { _ = write(2, $0, strlen($0)) }
            exit(2)
        }
        selectedTarget = target
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var argc = CInt(argv.count - 1)
        let status = argv.withUnsafeMutableBufferPointer { buffer in
            var base = buffer.baseAddress!
            return runLibFuzzer(&argc, &base) { data, size in
                let input = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
                do {
                    _ = try selectedTarget.run(input)
                } catch {
                    fatalError("\(selectedTarget.rawValue): \(error)")
                }
                return 0
            }
        }
        exit(status)
    }
}
