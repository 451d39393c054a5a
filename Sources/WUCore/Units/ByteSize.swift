/// Parsing and printing of byte sizes (`256M`, `4G`, `1.5G`, `65536`), binary multiples.
public enum ByteSize {
    /// Parses `N`, `N[KMGT]`, `N[KMGT]i?B?` (case-insensitive) into bytes. 1K = 1024.
    ///
    /// - Throws: `WUError.invalidArgument` naming the text and the accepted forms.
    public static func parse(_ text: String) throws -> Int64 {
        let trimmed = text.trimmingSpaces()
        var digits = Substring(trimmed)
        var multiplier: Double = 1
        let suffixes: [(String, Int64)] = [
            ("TIB", 1 << 40), ("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10),
            ("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10),
            ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1),
        ]
        let upper = trimmed.uppercased()
        for (suffix, value) in suffixes where upper.hasSuffix(suffix) {
            digits = digits.dropLast(suffix.count)
            multiplier = Double(value)
            break
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isNumber || $0 == "." }), let number = Double(digits), number >= 0,
            number * multiplier < Double(Int64.max)
        else {
            throw WUError(.invalidArgument, "'\(text)' is not a size: write a number of bytes with an optional K, M, G or T suffix, e.g. 256M or 4G")
        }
        return Int64((number * multiplier).rounded())
    }

    /// Formats bytes with the largest binary suffix that keeps the number ≥ 1 (`268435456` → `256M`).
    public static func format(_ bytes: Int64) -> String {
        let units: [(String, Int64)] = [("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
        for (suffix, value) in units where bytes >= value {
            if bytes % value == 0 { return "\(bytes / value)\(suffix)" }
            // Rounded to tenths without `bytes * 10`, which overflows near Int64.max (a size from a signed manifest).
            let tenths = bytes / value * 10 + (bytes % value * 10 + value / 2) / value
            return "\(tenths / 10).\(tenths % 10)\(suffix)"
        }
        return "\(bytes)B"
    }
}

/// Parsing and printing of durations (`60s`, `5m`, `1h30m`, `500ms`), in milliseconds.
public enum DurationText {
    /// Parses a sequence of `N` + unit (`ms`, `s`, `m`, `h`, `d`) into milliseconds; a bare number is seconds.
    ///
    /// - Throws: `WUError.invalidArgument` naming the text and the accepted forms.
    public static func parseMilliseconds(_ text: String) throws -> Int64 {
        let trimmed = text.trimmingSpaces()
        let invalid = WUError(.invalidArgument, "'\(text)' is not a duration: write e.g. 500ms, 60s, 5m, 1h30m or 2d")
        if !trimmed.isEmpty, trimmed.allSatisfy({ $0.isNumber || $0 == "." }) {
            guard let seconds = Double(trimmed), seconds * 1000 < Double(Int64.max) else { throw invalid }
            return Int64((seconds * 1000).rounded())
        }
        var total: Double = 0
        var number = ""
        var unit = ""
        func flush() throws {
            guard let value = Double(number) else { throw invalid }
            let scale: Double
            switch unit {
            case "ms": scale = 1
            case "s": scale = 1000
            case "m": scale = 60_000
            case "h": scale = 3_600_000
            case "d": scale = 86_400_000
            default: throw invalid
            }
            total += value * scale
            number = ""
            unit = ""
        }
        for character in trimmed {
            if character.isNumber || character == "." {
                if !unit.isEmpty { try flush() }
                number.append(character)
            } else if character.isLetter {
                guard !number.isEmpty else { throw invalid }
                unit.append(character)
            } else {
                throw invalid
            }
        }
        guard !number.isEmpty, !unit.isEmpty else { throw invalid }
        try flush()
        guard total < Double(Int64.max) else { throw invalid }
        return Int64(total.rounded())
    }

    /// Formats milliseconds as `1.5s`, `250ms`, `2m5s`.
    public static func format(milliseconds ms: Int64) -> String {
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 {
            return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms / 1000).\((ms % 1000) / 100)s"
        }
        let seconds = ms / 1000
        if seconds < 3600 { return "\(seconds / 60)m\(seconds % 60 == 0 ? "" : "\(seconds % 60)s")" }
        return "\(seconds / 3600)h\((seconds % 3600) / 60 == 0 ? "" : "\((seconds % 3600) / 60)m")"
    }
}

extension String {
    /// Without leading and trailing blanks. On `Substring` only: a reversed generic view costs
    /// runtime metadata lookups (scans of every conformance in the binary) at each process start.
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\n" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\n" { s.removeLast() }
        return String(s)
    }
}
