import WUClient
import Logging
import Synchronization
import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// Content-addressed blobs a runner fetched (manifests, signatures, payload files, outputs), kept
/// under a byte budget and evicted least recently used first.
final class BlobCache: Sendable {
    let directory: String
    let budgetBytes: Int64
    let client: OrchestratorClient
    /// Blobs a running unit links from; never evicted while listed.
    private let pinned = Mutex<[String: Int]>([:])

    init(directory: String, budgetBytes: Int64, client: OrchestratorClient) throws {
        try FileIO.makeDirectories(directory, mode: 0o700)
        self.directory = directory
        self.budgetBytes = budgetBytes
        self.client = client
    }

    func path(_ digest: String) -> String { directory + "/" + digest }

    /// The local path of blob `digest`, downloading and checking it when missing.
    func fetch(_ digest: String, maxBytes: Int64) async throws -> String {
        guard Digest.isSHA256(digest) else { throw WUError(.invalidArgument, "'\(digest)' is not a SHA-256 digest") }
        let target = path(digest)
        if access(target, F_OK) == 0 {
            utimensat(AT_FDCWD, target, nil, 0)  // mark as recently used
            return target
        }
        try await client.downloadBlob(digest, to: target, maxBytes: maxBytes)
        evict()
        return target
    }

    func pin(_ digests: [String]) { pinned.withLock { for d in digests { $0[d, default: 0] += 1 } } }

    func unpin(_ digests: [String]) {
        pinned.withLock { table in
            for d in digests {
                table[d, default: 1] -= 1
                if table[d] == 0 { table[d] = nil }
            }
        }
    }

    /// Removes least recently used blobs until the cache fits its budget.
    func evict() {
        guard let names = try? FileIO.listDirectory(directory) else { return }
        var files: [(name: String, size: Int64, used: Int)] = []
        var total: Int64 = 0
        for name in names where Digest.isSHA256(name) {
            var st = stat()
            guard stat(path(name), &st) == 0 else { continue }
            files.append((name, Int64(st.st_size), st.st_mtim.tv_sec))
            total += Int64(st.st_size)
        }
        guard total > budgetBytes else { return }
        let held = pinned.withLock { Set($0.keys) }
        for file in files.sorted(by: { $0.used < $1.used }) where !held.contains(file.name) {
            unlink(path(file.name))
            total -= file.size
            if total <= budgetBytes { break }
        }
    }
}
