import Glibc

/// Where this machine's cgroup controllers live, read from `/proc/self/mountinfo`.
///
/// v2: one unified hierarchy whose root lists the controllers in `cgroup.controllers`.
/// v1: one hierarchy per controller (or per group of co-mounted controllers; here `cpu` and
/// `cpuacct` are separate). When both exist, v2 is used only if it actually has the memory, cpu and
/// pids controllers (a "hybrid" machine with an empty unified tree uses v1).
public struct CgroupHierarchy: Sendable, Equatable {
    public enum Version: String, Sendable { case v1, v2 }

    public var version: Version
    /// v2: the unified mount point.
    public var unifiedRoot: String?
    /// v1: controller name → mount point of its hierarchy.
    public var v1Mounts: [String: String]
    /// v2: controllers the root offers.
    public var v2Controllers: Set<String>

    /// The v1 controllers the sandbox uses, and the v2 ones.
    public static let v1Controllers = ["memory", "cpu", "cpuacct", "pids", "freezer"]
    public static let v2Wanted: Set<String> = ["memory", "cpu", "pids"]

    /// Detects the hierarchy; nil when no usable cgroup file system is mounted.
    public static func detect(mountinfo: String? = nil) -> CgroupHierarchy? {
        guard let bytes = mountinfo.map({ Array($0.utf8) }) ?? FileSystem.readFile("/proc/self/mountinfo") else { return nil }
        var unified: String?
        var v1: [String: String] = [:]
        // Bytes, not Strings: every `wu sandbox exec` reads this, and only the few cgroup lines
        // of the few dozen need more than a scan.
        bytes.withUnsafeBufferPointer { buf in
            var start = 0
            while start < buf.count {
                var end = start
                while end < buf.count && buf[end] != UInt8(ascii: "\n") { end += 1 }
                // id parent major:minor root mountpoint options [optional…] - fstype source superoptions
                var fields: [Range<Int>] = []
                var i = start
                while i < end {
                    var j = i
                    while j < end && buf[j] != UInt8(ascii: " ") { j += 1 }
                    fields.append(i..<j)
                    i = j + 1
                }
                start = end + 1
                func text(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: buf[r]), as: UTF8.self) }
                func equals(_ r: Range<Int>, _ s: StaticString) -> Bool {
                    r.count == s.utf8CodeUnitCount && memcmp(buf.baseAddress! + r.lowerBound, s.utf8Start, r.count) == 0
                }
                guard let dash = fields.firstIndex(where: { equals($0, "-") }), dash >= 5, fields.count >= dash + 4 else { continue }
                let fsType = fields[dash + 1]
                if equals(fsType, "cgroup2") {
                    if unified == nil { unified = unescape(text(fields[4])) }
                } else if equals(fsType, "cgroup") {
                    let mountPoint = unescape(text(fields[4]))
                    for option in text(fields[dash + 3]).split(separator: ",") {
                        let o = String(option)
                        if CgroupHierarchy.v1Controllers.contains(o) { v1[o] = mountPoint }
                    }
                }
            }
        }
        var v2Controllers: Set<String> = []
        if let unified, let text = FileSystem.readText(unified + "/cgroup.controllers") {
            v2Controllers = Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        }
        if let unified, v2Controllers.isSuperset(of: v2Wanted) {
            return CgroupHierarchy(version: .v2, unifiedRoot: unified, v1Mounts: [:], v2Controllers: v2Controllers)
        }
        if !v1.isEmpty {
            return CgroupHierarchy(version: .v1, unifiedRoot: unified, v1Mounts: v1, v2Controllers: v2Controllers)
        }
        if let unified {
            return CgroupHierarchy(version: .v2, unifiedRoot: unified, v1Mounts: [:], v2Controllers: v2Controllers)
        }
        return nil
    }

    /// Controllers the sandbox needs that this hierarchy lacks.
    public var missingControllers: [String] {
        switch version {
        case .v1: CgroupHierarchy.v1Controllers.filter { v1Mounts[$0] == nil }
        case .v2: CgroupHierarchy.v2Wanted.subtracting(v2Controllers).sorted()
        }
    }

    /// mountinfo escapes spaces and a few other bytes as `\ooo`.
    static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out: [UInt8] = []
        let bytes = Array(s.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count,
                let v = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
            {
                out.append(v)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
