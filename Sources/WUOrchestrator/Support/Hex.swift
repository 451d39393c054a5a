import Crypto

/// Lower-case hex and SHA-256 helpers.
enum Hex {
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func sha256(_ bytes: some Sequence<UInt8>) -> String {
        encode(SHA256.hash(data: Array(bytes)))
    }

    static func sha256(_ text: String) -> String { sha256(Array(text.utf8)) }

    /// `count` random bytes as hex, from the system's CSPRNG.
    static func random(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return encode((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
