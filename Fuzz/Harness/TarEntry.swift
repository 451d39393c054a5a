/// One regular file as a ustar header and its data padded to 512 bytes.
///
/// The bundle harness puts a mutated manifest and its fresh signature in front of the fuzzer's
/// payload stream with it; libarchive is not used because the bytes that follow must stay as given.
enum TarEntry {
    static func regularFile(named name: String, contents: [UInt8]) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int) {
            for (i, byte) in text.utf8.enumerated() { header[offset + i] = byte }
        }
        func octal(_ value: Int, at offset: Int, width: Int) {
            let digits = String(value, radix: 8)
            put(String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits, at: offset)
        }
        put(name, at: 0)
        octal(0o644, at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(contents.count, at: 124, width: 12)
        octal(0, at: 136, width: 12)
        put("0", at: 156)
        put("ustar", at: 257)
        put("00", at: 263)
        // The checksum is the byte sum of the header with its own field read as spaces.
        put("        ", at: 148)
        octal(header.reduce(0) { $0 + Int($1) }, at: 148, width: 7)
        let padding = (512 - contents.count % 512) % 512
        return header + contents + [UInt8](repeating: 0, count: padding)
    }
}
