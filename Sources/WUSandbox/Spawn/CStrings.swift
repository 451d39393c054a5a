import CSandbox
import Glibc

/// C strings that live until ``free()``: built in the parent, read by the child after clone.
final class CStrings {
    private var owned: [UnsafeMutablePointer<CChar>] = []
    private var arrays: [UnsafeMutablePointer<UnsafePointer<CChar>?>] = []
    private var numbers: [UnsafeMutablePointer<Int32>] = []

    func make(_ s: String) -> UnsafePointer<CChar> {
        let p = strdup(s)!
        owned.append(p)
        return UnsafePointer(p)
    }

    /// A NULL-terminated array of C strings.
    func array(_ items: [String]) -> UnsafeMutablePointer<UnsafePointer<CChar>?> {
        let a = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: items.count + 1)
        for (i, s) in items.enumerated() { a[i] = make(s) }
        a[items.count] = nil
        arrays.append(a)
        return a
    }

    /// A copy of `values` (nil when empty).
    func integers(_ values: [Int32]) -> UnsafePointer<Int32>? {
        guard !values.isEmpty else { return nil }
        let a = UnsafeMutablePointer<Int32>.allocate(capacity: values.count)
        a.initialize(from: values, count: values.count)
        numbers.append(a)
        return UnsafePointer(a)
    }

    /// The plan as C sees it (its strings live until ``free()``).
    func mounts(_ plan: [PlannedMount]) -> [wu_mount] {
        plan.map {
            wu_mount(
                kind: $0.kind,
                optional: $0.optional ? 1 : 0,
                source: $0.source.map { make($0) },
                target: make($0.target),
                data: $0.data.map { make($0) },
                fd: $0.fd
            )
        }
    }

    func free() {
        for p in owned { Glibc.free(p) }
        for a in arrays { a.deallocate() }
        for a in numbers { a.deallocate() }
        owned = []
        arrays = []
        numbers = []
    }
}
