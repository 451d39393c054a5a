/// Where JSON that the decoder refused goes wrong: the decoder says only "not valid JSON", so this
/// scanner walks the text again to name the line, the column and, for a number, the field.
///
/// It reports the first syntax error, or else the first number too large for any field (an integer
/// field cannot hold `1e30`, and the decoder refuses it as invalid JSON).
struct JSONProblem {
    private let bytes: [UInt8]
    private var index = 0
    private var path: [String] = []

    /// The problem in `bytes`, e.g. `line 3, column 14: expected ',' or '}'`; nil when none is found.
    static func find(in bytes: [UInt8]) -> String? {
        var scanner = JSONProblem(bytes: bytes)
        do {
            scanner.skipBlanks()
            try scanner.value()
            scanner.skipBlanks()
            if scanner.index < bytes.count { throw scanner.problem("unexpected text after the end of the JSON value") }
            return nil
        } catch {
            return (error as? Failure)?.text
        }
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    struct Failure: Error { let text: String }

    private func problem(_ what: String, at offset: Int? = nil) -> Failure {
        let end = min(offset ?? index, bytes.count)
        var line = 1
        var column = 1
        for byte in bytes[..<end] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {  // count characters, not UTF-8 continuation bytes
                column += 1
            }
        }
        return Failure(text: "line \(line), column \(column): \(what)")
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipBlanks() {
        while let c = current, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { index += 1 }
    }

    private mutating func expect(_ character: Character, _ what: String) throws {
        skipBlanks()
        guard current == character.asciiValue else { throw problem(what) }
        index += 1
    }

    private mutating func value() throws {
        skipBlanks()
        guard let c = current else { throw problem("the JSON ends where a value was expected") }
        switch c {
        case UInt8(ascii: "{"): try object()
        case UInt8(ascii: "["): try array()
        case UInt8(ascii: "\""): try string()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: throw problem("expected a value (a string, number, object, array, true, false or null)")
        }
    }

    private mutating func object() throws {
        index += 1
        skipBlanks()
        if current == UInt8(ascii: "}") {
            index += 1
            return
        }
        repeat {
            skipBlanks()
            guard current == UInt8(ascii: "\"") else { throw problem("expected a key in double quotes") }
            let start = index + 1
            try string()
            path.append(String(decoding: bytes[start..<(index - 1)], as: UTF8.self))
            try expect(":", "expected ':' after the key")
            try value()
            path.removeLast()
        } while try another("}")
    }

    private mutating func array() throws {
        index += 1
        skipBlanks()
        if current == UInt8(ascii: "]") {
            index += 1
            return
        }
        var position = 0
        repeat {
            path.append("[\(position)]")
            try value()
            path.removeLast()
            position += 1
        } while try another("]")
    }

    /// After a member or element: true when a ',' says another follows, false at `close`.
    private mutating func another(_ close: Character) throws -> Bool {
        skipBlanks()
        guard current == UInt8(ascii: ",") else {
            try expect(close, "expected ',' or '\(close)'")
            return false
        }
        index += 1
        skipBlanks()
        if current == close.asciiValue { throw problem("a ',' before '\(close)' (JSON allows no trailing comma)") }
        return true
    }

    private mutating func string() throws {
        let start = index
        index += 1
        while let c = current {
            index += 1
            if c == UInt8(ascii: "\"") { return }
            if c == UInt8(ascii: "\\") { index += 1 }
            if c < 0x20 { throw problem("a control character (a raw line break or tab) inside a string; write it as \\n or \\t", at: index - 1) }
        }
        throw problem("a string that is never closed", at: start)
    }

    private mutating func literal(_ word: String) throws {
        let end = index + word.utf8.count
        guard end <= bytes.count, bytes[index..<end].elementsEqual(word.utf8) else { throw problem("expected a value (did you mean \(word)?)") }
        index = end
    }

    private mutating func number() throws {
        let start = index
        let numeric = Set("+-0123456789.eE".utf8)
        while let c = current, numeric.contains(c) { index += 1 }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text), text.last?.isNumber == true else { throw problem("'\(text)' is not a number", at: start) }
        if abs(value) > Double(Int64.max) {
            let field = path.joined(separator: ".").replacing(".[", with: "[")
            throw problem("\(field.isEmpty ? "a number" : field): \(text) is out of range", at: start)
        }
    }
}
