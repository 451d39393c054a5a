import Testing
@testable import WUCore

@Suite struct UnitsTests {
    @Test(arguments: [
        ("256M", Int64(256 << 20)), ("4G", Int64(4) << 30), ("1.5G", Int64(3) << 29), ("65536", Int64(65536)),
        ("10k", Int64(10240)), ("2GiB", Int64(2) << 30), ("1T", Int64(1) << 40), ("0", Int64(0)),
    ])
    func parsesSizes(text: String, bytes: Int64) throws {
        #expect(try ByteSize.parse(text) == bytes)
    }

    @Test(arguments: ["", "M", "12Q", "-1M", "1.2.3G", "lots"])
    func rejectsBadSizes(text: String) {
        expectWUError(.invalidArgument, containing: "is not a size") { _ = try ByteSize.parse(text) }
    }

    @Test func formatsSizes() {
        #expect(ByteSize.format(256 << 20) == "256M")
        #expect(ByteSize.format(1536) == "1.5K")
        #expect(ByteSize.format(12) == "12B")
    }

    @Test(arguments: [("60s", Int64(60_000)), ("500ms", Int64(500)), ("5m", Int64(300_000)), ("1h30m", Int64(5_400_000)), ("2", Int64(2000)), ("1d", Int64(86_400_000))])
    func parsesDurations(text: String, ms: Int64) throws {
        #expect(try DurationText.parseMilliseconds(text) == ms)
    }

    @Test(arguments: ["", "s", "10x", "1h-5m", "ms5"])
    func rejectsBadDurations(text: String) {
        expectWUError(.invalidArgument, containing: "is not a duration") { _ = try DurationText.parseMilliseconds(text) }
    }
}
