/// An amount of machine: what a runner offers, or what a unit needs.
///
/// Units of measure follow the wire: millicpus, bytes.
public struct Capacity: Codable, Sendable, Equatable {
    public var millicpus: Int
    public var memoryBytes: Int64
    public var diskBytes: Int64
    public var gpus: Int

    public init(millicpus: Int, memoryBytes: Int64, diskBytes: Int64, gpus: Int = 0) {
        self.millicpus = millicpus
        self.memoryBytes = memoryBytes
        self.diskBytes = diskBytes
        self.gpus = gpus
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case millicpus
        case memoryBytes = "memory_bytes"
        case diskBytes = "disk_bytes"
        case gpus
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        millicpus = try c.decode(Int.self, forKey: .millicpus)
        memoryBytes = try c.decode(Int64.self, forKey: .memoryBytes)
        diskBytes = try c.decode(Int64.self, forKey: .diskBytes)
        gpus = try c.decodeIfPresent(Int.self, forKey: .gpus) ?? 0
        guard millicpus >= 0, memoryBytes >= 0, diskBytes >= 0, gpus >= 0 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "capacity must not be negative"))
        }
    }

    /// True when `other` fits inside this capacity.
    public func fits(_ other: Capacity) -> Bool {
        other.millicpus <= millicpus && other.memoryBytes <= memoryBytes && other.diskBytes <= diskBytes && other.gpus <= gpus
    }

    /// This capacity minus `other`.
    public func subtracting(_ other: Capacity) -> Capacity {
        Capacity(
            millicpus: millicpus - other.millicpus,
            memoryBytes: memoryBytes - other.memoryBytes,
            diskBytes: diskBytes - other.diskBytes,
            gpus: gpus - other.gpus
        )
    }
}
