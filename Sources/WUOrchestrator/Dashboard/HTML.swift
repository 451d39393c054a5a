/// A fragment of HTML whose interpolations are escaped unless they are `HTML` themselves.
///
/// Only `String`, integers and `HTML` can be interpolated, so nothing reaches the page without
/// passing through `HTML.escape`: `"<td>\(job.name)</td>" as HTML` is safe whatever the name holds.
struct HTML: ExpressibleByStringInterpolation, Sendable, Equatable {
    private(set) var rendered: String

    init(stringLiteral value: String) { rendered = value }

    init(stringInterpolation: StringInterpolation) { rendered = stringInterpolation.output }

    /// Joins fragments without a separator.
    init(_ parts: [HTML]) { rendered = parts.map(\.rendered).joined() }

    static let empty: HTML = ""

    struct StringInterpolation: StringInterpolationProtocol {
        var output = ""

        init(literalCapacity: Int, interpolationCount: Int) { output.reserveCapacity(literalCapacity + 16 * interpolationCount) }

        mutating func appendLiteral(_ literal: String) { output += literal }
        mutating func appendInterpolation(_ text: String) { output += HTML.escape(text) }
        mutating func appendInterpolation(_ text: Substring) { output += HTML.escape(String(text)) }
        mutating func appendInterpolation(_ value: Int) { output += String(value) }
        mutating func appendInterpolation(_ value: Int64) { output += String(value) }
        mutating func appendInterpolation(_ html: HTML) { output += html.rendered }
        mutating func appendInterpolation(_ list: [HTML]) { for html in list { output += html.rendered } }
    }

    /// Escapes text for an element's content or a double- or single-quoted attribute value.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\0": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
