import CSandbox
import Glibc

/// The unit's stdout and stderr: two pipes, whose write ends the unit gets and whose read ends
/// are drained into tails (and echoed, for `wu sandbox exec`) while it runs.
struct UnitOutput {
    /// One stream: its pipe and what is kept of it.
    struct Stream {
        let readFD: Int32
        fileprivate(set) var writeFD: Int32
        /// Until EOF.
        fileprivate(set) var isOpen = true
        fileprivate(set) var tail: TailBuffer
        /// Where it is copied to (1 or 2), or -1.
        let echo: Int32
    }

    private(set) var stdout: Stream
    private(set) var stderr: Stream
    /// 64 KiB, made at the first read: by the watch's own copy, so that it is never copied.
    private var buffer: [UInt8] = []

    init(tailBytes: Int, echo: Bool) throws(SandboxError) {
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard wu_pipe_cloexec(&outPipe) == 0 else { throw SandboxError(.io, "pipe", errno: errno) }
        guard wu_pipe_cloexec(&errPipe) == 0 else {
            Glibc.close(outPipe[0])
            Glibc.close(outPipe[1])
            throw SandboxError(.io, "pipe", errno: errno)
        }
        stdout = Stream(readFD: outPipe[0], writeFD: outPipe[1], tail: TailBuffer(capacity: tailBytes), echo: echo ? 1 : -1)
        stderr = Stream(readFD: errPipe[0], writeFD: errPipe[1], tail: TailBuffer(capacity: tailBytes), echo: echo ? 2 : -1)
    }

    /// Once the unit has its copies (or will never start).
    mutating func closeWriteEnds() {
        for fd in [stdout.writeFD, stderr.writeFD] where fd >= 0 { Glibc.close(fd) }
        stdout.writeFD = -1
        stderr.writeFD = -1
    }

    /// Reads never block the watch.
    func makeNonBlocking() {
        for fd in [stdout.readFD, stderr.readFD] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    /// Either stream still open.
    var isOpen: Bool { stdout.isOpen || stderr.isOpen }

    /// The open streams' read ends, to poll.
    var pollDescriptors: [pollfd] {
        var fds: [pollfd] = []
        if stdout.isOpen { fds.append(pollfd(fd: stdout.readFD, events: Int16(POLLIN), revents: 0)) }
        if stderr.isOpen { fds.append(pollfd(fd: stderr.readFD, events: Int16(POLLIN), revents: 0)) }
        return fds
    }

    /// Reads what is there on each open stream.
    mutating func drain() {
        if stdout.isOpen { stdout.isOpen = Self.drain(&stdout, through: &buffer) }
        if stderr.isOpen { stderr.isOpen = Self.drain(&stderr, through: &buffer) }
    }

    /// After the init is gone (and with it its pid namespace) the pipes reach EOF at once; the
    /// wait is bounded anyway.
    mutating func drainAfterExit() {
        let drainDeadline = Monotonic.nowNs() + 500_000_000
        while isOpen && Monotonic.nowNs() < drainDeadline {
            var fds = pollDescriptors
            _ = poll(&fds, nfds_t(fds.count), 50)
            drain()
        }
    }

    func close() {
        Glibc.close(stdout.readFD)
        Glibc.close(stderr.readFD)
        for fd in [stdout.writeFD, stderr.writeFD] where fd >= 0 { Glibc.close(fd) }
    }

    /// Reads what is there; false at EOF. At most 1 MiB per call so the clock keeps ticking.
    private static func drain(_ stream: inout Stream, through buffer: inout [UInt8]) -> Bool {
        if buffer.isEmpty { buffer = [UInt8](repeating: 0, count: 65536) }
        var budget = 16
        while budget > 0 {
            budget -= 1
            let n = buffer.withUnsafeMutableBytes { read(stream.readFD, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer.withUnsafeBytes { raw in
                    let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                    stream.tail.append(chunk)
                    if stream.echo >= 0 { _ = Glibc.write(stream.echo, chunk.baseAddress, chunk.count) }
                }
                continue
            }
            if n == 0 { return false }
            if errno == EINTR { continue }
            return errno == EAGAIN || errno == EWOULDBLOCK
        }
        return true
    }
}
