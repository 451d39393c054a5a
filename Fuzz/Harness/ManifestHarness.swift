import WUCore

/// `Manifest.decode` and `JobSpec.parse` on the same bytes.
///
/// Asserts: both refuse with a `WUError` (one clear line, never another error type or a crash), and
/// a manifest that decodes re-encodes to bytes that decode to the same manifest (what `wu pack`
/// writes is what every verifier reads).
enum ManifestHarness {
    static func run(_ input: [UInt8]) throws(FuzzFailure) -> FuzzTarget.Outcome {
        let manifest = try refusingCleanly("Manifest.decode") { try Manifest.decode(input) }
        let spec = try refusingCleanly("JobSpec.parse") { try JobSpec.parse(input) }
        if let manifest {
            let again = try? Manifest.decode(manifest.encoded())
            guard again == manifest else { throw FuzzFailure("a valid manifest does not decode to itself after encoding") }
        }
        return manifest != nil || spec != nil ? .accepted : .rejected
    }
}

/// The value, or nil when `body` refused the input with a `WUError` that has a message.
func refusingCleanly<T>(_ what: String, _ body: () throws -> T) throws(FuzzFailure) -> T? {
    do {
        return try body()
    } catch let error as WUError {
        guard !error.message.isEmpty else { throw FuzzFailure("\(what) refused with an empty message") }
        return nil
    } catch {
        throw FuzzFailure("\(what) threw \(type(of: error)), not a WUError: \(error)")
    }
}
