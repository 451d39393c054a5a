/// The last `capacity` bytes written to it; older bytes are dropped as new ones arrive, so a unit
/// that writes gigabytes costs the runner only `capacity` bytes of memory.
struct TailBuffer {
    let capacity: Int
    private var storage: [UInt8] = []
    private var start = 0
    private(set) var totalBytes: Int64 = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        totalBytes += Int64(bytes.count)
        guard capacity > 0 else { return }
        let slice = bytes.count > capacity ? UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - capacity)...]) : bytes
        for b in slice {
            if storage.count < capacity {
                storage.append(b)
            } else {
                storage[start] = b
                start = (start + 1) % capacity
            }
        }
    }

    var bytes: [UInt8] { Array(storage[start...] + storage[..<start]) }

    /// The tail as UTF-8, invalid bytes replaced (a cut in the middle of a character included).
    var text: String { String(decoding: bytes, as: UTF8.self) }
}
