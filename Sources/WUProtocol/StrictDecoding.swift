/// A coding key that accepts any name, used to find the keys of a JSON object.
public struct AnyCodingKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int?

    public init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    public init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

extension Decoder {
    /// Throws when the JSON object being decoded holds a key that `Keys` does not list.
    ///
    /// Request types call this first in `init(from:)`, so a misspelt field is an error
    /// rather than silently ignored.
    public func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ keys: Keys.Type) throws {
        let container = try self.container(keyedBy: AnyCodingKey.self)
        let known = Set(Keys.allCases.map(\.stringValue))
        for key in container.allKeys where !known.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: codingPath + [key], debugDescription: "unknown field '\(key.stringValue)'")
            )
        }
    }
}

/// Decoding that checks each wire value's shape (`WireID`) and range as it is read: a peer's bad
/// value is a `DecodingError` naming the field, before any caller sees it.
extension KeyedDecodingContainer {
    /// An assignment, job or runner id.
    public func decodeID(forKey key: Key) throws -> String {
        try checked(decode(String.self, forKey: key), key, "an id (\(WireID.rule))", WireID.isValid)
    }

    public func decodeIDIfPresent(forKey key: Key) throws -> String? {
        try decodeIfPresent(String.self, forKey: key).map { try checked($0, key, "an id (\(WireID.rule))", WireID.isValid) }
    }

    /// A list of assignment, job or runner ids.
    public func decodeIDs(forKey key: Key) throws -> [String] {
        try decode([String].self, forKey: key).map { try checked($0, key, "an id (\(WireID.rule))", WireID.isValid) }
    }

    public func decodeUnitID(forKey key: Key) throws -> String {
        try checked(decode(String.self, forKey: key), key, "a unit id", WireID.isValidUnitID)
    }

    /// A profile or architecture name.
    public func decodeName(forKey key: Key) throws -> String {
        try checked(decode(String.self, forKey: key), key, "a name", WireID.isValidName)
    }

    public func decodeDigest(forKey key: Key) throws -> String {
        try checked(decode(String.self, forKey: key), key, "a SHA-256 digest (64 lower-case hex digits)", WireID.isSHA256)
    }

    /// A number in `range`; a peer's 0, negative or huge value never reaches a sleep, a size or a limit.
    public func decode<T: Decodable & Comparable>(_ type: T.Type, forKey key: Key, in range: ClosedRange<T>) throws -> T {
        let value = try decode(T.self, forKey: key)
        guard range.contains(value) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    private func checked(_ value: String, _ key: Key, _ what: String, _ isValid: (String) -> Bool) throws -> String {
        guard isValid(value) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "'\(value.prefix(80))' is not \(what)")
        }
        return value
    }
}
