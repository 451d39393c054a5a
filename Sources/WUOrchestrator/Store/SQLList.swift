/// Row ids written into SQL as `IN (…)` lists, in chunks that keep each statement small.
///
/// Only integers ever go in, so nothing a caller sent can change the SQL.
enum SQLList {
    static func chunks(_ ids: [Int64], size: Int = 500) -> [String] {
        stride(from: 0, to: ids.count, by: size).map { ids[$0..<min($0 + size, ids.count)].map(String.init).joined(separator: ",") }
    }
}
