import CSandbox
import Glibc
import Synchronization

/// An eventfd the poll loop watches; firing it kills the unit.
final class CancelSignal: Sendable {
    private let fd = Mutex<Int32>(-1)

    init() {
        let e = wu_eventfd()
        fd.withLock { $0 = e }
    }

    var descriptor: Int32 { fd.withLock { $0 } }

    func fire() {
        fd.withLock { e in
            guard e >= 0 else { return }
            var one: UInt64 = 1
            _ = Glibc.write(e, &one, 8)
        }
    }

    deinit {
        fd.withLock { e in
            if e >= 0 { close(e) }
            e = -1
        }
    }
}
