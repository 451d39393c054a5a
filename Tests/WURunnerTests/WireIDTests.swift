import FoundationEssentials
import Testing
import WUProtocol

/// The wire's shapes (DESIGN.md: ids are 1–64 of `[A-Za-z0-9_-]`), checked while decoding, without a runner.
@Suite struct WireIDTests {
    @Test func idsAreOneToSixtyFourOfTheDesignsCharacters() {
        for good in ["1", "a-b_C9", String(repeating: "x", count: 64)] { #expect(WireID.isValid(good), "\(good)") }
        for bad in ["", "..", "../x", "a/b", "a.b", "a b", "é", "a\u{0}", String(repeating: "x", count: 65)] {
            #expect(!WireID.isValid(bad), "\(bad)")
        }
    }

    @Test func unitIDsMayHoldADotButNeverBeDotOrDotDot() {
        for good in ["u1", "part.01", "aggregate", "a..b"] { #expect(WireID.isValidUnitID(good), "\(good)") }
        for bad in ["", ".", "..", ".hidden", "-x", "a/b", "../x", String(repeating: "x", count: 65)] {
            #expect(!WireID.isValidUnitID(bad), "\(bad)")
        }
    }

    @Test func digestsAreSixtyFourLowerCaseHexDigits() {
        #expect(WireID.isSHA256(String(repeating: "a", count: 64)))
        #expect(!WireID.isSHA256(String(repeating: "A", count: 64)))
        #expect(!WireID.isSHA256(String(repeating: "a", count: 63)))
        #expect(!WireID.isSHA256("../" + String(repeating: "a", count: 61)))
    }

    func decodes<T: Decodable>(_ type: T.Type, _ json: String) -> Bool {
        (try? JSONDecoder().decode(T.self, from: Data(json.utf8))) != nil
    }

    @Test func registerAnswersKeepTheirPeriodsInRange() {
        #expect(decodes(RegisterResponse.self, #"{"runner_id":"7","lease_seconds":75,"heartbeat_seconds":25}"#))
        for bad in [
            #"{"runner_id":"7","lease_seconds":75,"heartbeat_seconds":0}"#, #"{"runner_id":"7","lease_seconds":75,"heartbeat_seconds":76}"#,
            #"{"runner_id":"7","lease_seconds":86401,"heartbeat_seconds":1}"#, #"{"runner_id":"7","lease_seconds":-1,"heartbeat_seconds":1}"#,
            #"{"runner_id":"a/b","lease_seconds":75,"heartbeat_seconds":25}"#,
        ] {
            #expect(!decodes(RegisterResponse.self, bad), "\(bad)")
        }
    }

    @Test func requestsNamingMalformedIDsAreRefused() {
        let d = String(repeating: "d", count: 64)
        #expect(decodes(HeartbeatRequest.self, #"{"runner_id":"7","assignments":[{"assignment_id":"41","progress":0.5}]}"#))
        #expect(!decodes(HeartbeatRequest.self, #"{"runner_id":"7","assignments":[{"assignment_id":"../41"}]}"#))
        #expect(!decodes(HeartbeatRequest.self, #"{"runner_id":"7","assignments":[{"assignment_id":"41","progress":2}]}"#))
        #expect(!decodes(ClaimRequest.self, #"{"runner_id":"x y","free":{"millicpus":1,"memory_bytes":1,"disk_bytes":1}}"#))
        #expect(decodes(CompleteRequest.self, #"{"runner_id":"7","output_digest":"\#(d)","blob_digest":"\#(d)","usage":{"wall_ms":1}}"#))
        #expect(!decodes(CompleteRequest.self, #"{"runner_id":"7","output_digest":"\#(d)","blob_digest":"../x","usage":{"wall_ms":1}}"#))
        #expect(!decodes(FailRequest.self, #"{"runner_id":"","reason":"x"}"#))
    }
}
