import ArgumentParser
import Foundation
import Synchronization
import WUCore
import WUProtocol

#if canImport(Glibc)
import Glibc
#endif

extension WUOrchestratorCommand {
    /// The load generator behind `make bench-orchestrator` (hidden): packs a job of trivial units,
    /// submits it, and drives K simulated runners (one thread and one keep-alive connection each)
    /// through claim → upload → complete, as a runner does: each unit packs its own output archive
    /// and uploads it, so every complete names a distinct blob the server has to store and verify.
    /// Prints throughput, claim/PUT/complete latency and duplicates.
    struct BenchLoad: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench-load",
            abstract: "Load generator for scripts/bench-orchestrator.sh.",
            shouldDisplay: false
        )

        @Option(help: "Write DIR/bench.wu and DIR/bench.key.pub, then exit.") var pack: String?
        @Option(help: "Units in the packed job.") var units: Int = 20_000
        @Option(help: "Orchestrator port on 127.0.0.1.") var port: Int = 0
        @Option(help: "Requester token.") var requesterToken: String = ""
        @Option(help: "Runner token.") var runnerToken: String = ""
        @Option(help: "The .wu bundle to submit.") var bundle: String = ""
        @Option(help: "Simulated runners.") var runners: Int = 8

        func run() throws {
            if let pack {
                try Self.pack(directory: pack, units: units)
                return
            }
            try Self.load(port: port, requesterToken: requesterToken, runnerToken: runnerToken, bundle: bundle, runners: runners)
        }

        static func pack(directory: String, units: Int) throws {
            let job = directory + "/job"
            for dir in [directory, job, job + "/code"] { mkdir(dir, 0o755) }
            let list = (0..<units).map { #"{"id":"u\#($0)","args":["\#($0)"]}"# }.joined(separator: ",")
            try Data(
                #"{"name":"bench","version":"1","command":["/bin/sh","run.sh"],"resources":{"cpus":0.1,"memory":"16M","disk":"1M","wall_time":"10s","pids":4},"units":[\#(list)]}"#
                    .utf8
            ).write(to: URL(fileURLWithPath: job + "/wu.json"))
            try Data("true\n".utf8).write(to: URL(fileURLWithPath: job + "/code/run.sh"))
            let key = SigningKey.generate(name: "bench")
            try Data(key.publicKey.fileContents.utf8).write(to: URL(fileURLWithPath: directory + "/bench.key.pub"))
            _ = try BundlePacker.pack(jobDirectory: job, key: key, output: directory + "/bench.wu")
        }

        struct Stats {
            var claimMs: [Double] = []
            var putMs: [Double] = []
            var completeMs: [Double] = []
            var completed = 0
            var errors = 0
            var seen = Set<String>()
            var duplicates = 0
        }

        static func load(port: Int, requesterToken: String, runnerToken: String, bundle: String, runners: Int) throws {
            let control = try HTTPConnection(port: port)
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: bundle)))
            let submitStart = Date()
            let (status, body) = try control.request("POST", "/v1/jobs", token: requesterToken, body: bytes)
            guard status == 201 else { throw ValidationError("submit answered \(status): \(String(decoding: body, as: UTF8.self))") }
            let job = try JSONDecoder().decode(SubmitJobResponse.self, from: Data(body))
            print(
                "submitted job \(job.jobID): \(job.units) units, \(bytes.count) bytes, in \(String(format: "%.2f", Date().timeIntervalSince(submitStart))) s"
            )
            var ids: [String] = []
            for i in 0..<runners {
                let register =
                    #"{"name":"bench-\#(i)","capacity":{"millicpus":4000,"memory_bytes":8589934592,"disk_bytes":8589934592},"arch":"x86_64"}"#
                let (s, b) = try control.request("POST", "/v1/runners/register", token: runnerToken, body: Array(register.utf8))
                guard s == 201 else { throw ValidationError("register answered \(s)") }
                ids.append(try JSONDecoder().decode(RegisterResponse.self, from: Data(b)).runnerID)
            }
            let stats = Mutex(Stats())
            let start = Date()
            var threads: [Thread] = []
            let done = DispatchGroup()
            for id in ids {
                done.enter()
                let thread = Thread {
                    defer { done.leave() }
                    guard let connection = try? HTTPConnection(port: port) else {
                        stats.withLock { $0.errors += 1 }
                        return
                    }
                    let claim = Array(
                        #"{"runner_id":"\#(id)","free":{"millicpus":4000,"memory_bytes":8589934592,"disk_bytes":8589934592},"wait":0,"max":1}"#.utf8
                    )
                    let scratch = NSTemporaryDirectory() + "wu-bench-\(getpid())-\(id)"
                    defer { try? FileManager.default.removeItem(atPath: scratch) }
                    try? FileManager.default.createDirectory(atPath: scratch + "/out", withIntermediateDirectories: true)
                    var empty = 0
                    while empty < 2 {
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        guard let (s, b) = try? connection.request("POST", "/v1/runners/claim", token: runnerToken, body: claim), s == 200,
                            let response = try? JSONDecoder().decode(ClaimResponse.self, from: Data(b))
                        else {
                            stats.withLock { $0.errors += 1 }
                            return
                        }
                        let ms = milliseconds(since: t0)
                        stats.withLock { st in
                            st.claimMs.append(ms)
                            for a in response.assignments where !st.seen.insert("\(a.jobID)/\(a.unitID)").inserted { st.duplicates += 1 }
                        }
                        if response.assignments.isEmpty {
                            empty += 1
                            continue
                        }
                        for a in response.assignments {
                            let ok = runUnit(a, runnerID: id, scratch: scratch, connection: connection, runnerToken: runnerToken, stats: stats)
                            stats.withLock { st in if ok { st.completed += 1 } else { st.errors += 1 } }
                        }
                    }
                }
                threads.append(thread)
            }
            threads.forEach { $0.start() }
            done.wait()
            let seconds = Date().timeIntervalSince(start)
            let final = stats.withLock { $0 }
            // A fresh connection: the server closes one left idle as long as the run took.
            let after = try HTTPConnection(port: port)
            let (_, jb) = try after.request("GET", "/v1/jobs/\(job.jobID)", token: requesterToken, body: [])
            let view = try? JSONDecoder().decode(JobView.self, from: Data(jb))
            print("units completed:   \(final.completed) in \(String(format: "%.2f", seconds)) s")
            print("units/s:           \(String(format: "%.0f", Double(final.completed) / seconds))")
            for (name, samples) in [("claim", final.claimMs), ("PUT", final.putMs), ("complete", final.completeMs)] {
                let (p50, p99) = percentiles(samples)
                print("\((name + " p50/p99:").padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: "%.2f / %.2f", p50, p99)) ms")
            }
            print("duplicate claims:  \(final.duplicates)")
            print("errors:            \(final.errors)")
            print("job state:         \(view?.state ?? "unknown")")
            if let (_, metrics) = try? after.request("GET", "/metrics", token: requesterToken, body: []) {
                var values: [String: Double] = [:]
                for line in String(decoding: metrics, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
                    let parts = line.split(separator: " ")
                    if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
                }
                if let transactions = values["wu_write_transactions"], let writes = values["wu_writes"], transactions > 0 {
                    print(
                        "group commit:      \(Int(writes)) writes in \(Int(transactions)) transactions (\(String(format: "%.2f", writes / transactions)) per commit)"
                    )
                }
            }
            if final.duplicates > 0 || view?.state != "completed" { throw ExitCode(1) }
        }
    }
}

extension WUOrchestratorCommand.BenchLoad {
    /// One unit as a runner finishes it: its own `/out` (the unit's id, so every blob differs),
    /// packed into a canonical output archive, uploaded, then completed. False on any refusal.
    static func runUnit(
        _ assignment: Assignment, runnerID: String, scratch: String, connection: HTTPConnection, runnerToken: String, stats: borrowing Mutex<Stats>
    ) -> Bool {
        guard (try? Data("\(assignment.jobID)/\(assignment.unitID)\n".utf8).write(to: URL(fileURLWithPath: scratch + "/out/result"))) != nil,
            let archive = try? OutputArchive.pack(directory: scratch + "/out", compressedPath: scratch + "/out.zst"),
            let blob = archive.blobDigest,
            let output = try? [UInt8](Data(contentsOf: URL(fileURLWithPath: scratch + "/out.zst")))
        else { return false }
        let t0 = DispatchTime.now().uptimeNanoseconds
        guard (try? connection.request("PUT", "/v1/blobs/\(blob)", token: runnerToken, body: output))?.0 == 201 else { return false }
        let t1 = DispatchTime.now().uptimeNanoseconds
        let complete = Array(
            #"{"runner_id":"\#(runnerID)","output_digest":"\#(archive.outputDigest)","blob_digest":"\#(blob)","usage":{"wall_ms":1,"exit_code":0}}"#.utf8
        )
        let ok = (try? connection.request("POST", "/v1/assignments/\(assignment.assignmentID)/complete", token: runnerToken, body: complete))?.0 == 200
        let putMs = Double(t1 - t0) / 1e6
        let completeMs = milliseconds(since: t1)
        stats.withLock { st in
            st.putMs.append(putMs)
            st.completeMs.append(completeMs)
        }
        return ok
    }

    static func milliseconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 }

    /// p50 and p99 of `samples` in ms (0 when there are none).
    static func percentiles(_ samples: [Double]) -> (Double, Double) {
        let sorted = samples.sorted()
        func at(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        return (at(0.5), at(0.99))
    }
}

/// A blocking HTTP/1.1 keep-alive connection to 127.0.0.1: just enough for the load generator.
final class HTTPConnection {
    let fd: Int32
    var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw ValidationError("cannot connect to 127.0.0.1:\(port)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    func request(_ method: String, _ path: String, token: String, body: [UInt8]) throws -> (Int, [UInt8]) {
        let head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nContent-Length: \(body.count)\r\n\r\n"
        try send(Array(head.utf8) + body)
        // Read the head.
        var headEnd: Int?
        while headEnd == nil {
            if let i = find([13, 10, 13, 10]) { headEnd = i } else { try fill() }
        }
        let headText = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        buffer.removeFirst(headEnd! + 4)
        let lines = headText.split(separator: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var length = 0
        var chunked = false
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = parts[0].lowercased()
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            if name == "content-length" { length = Int(value) ?? 0 }
            if name == "transfer-encoding" && value.lowercased().contains("chunked") { chunked = true }
        }
        if chunked {
            var body: [UInt8] = []
            while true {
                while find([13, 10]) == nil { try fill() }
                let lineEnd = find([13, 10])!
                let size = Int(String(decoding: buffer[0..<lineEnd], as: UTF8.self), radix: 16) ?? 0
                buffer.removeFirst(lineEnd + 2)
                while buffer.count < size + 2 { try fill() }
                body += buffer[0..<size]
                buffer.removeFirst(size + 2)
                if size == 0 { return (status, body) }
            }
        }
        while buffer.count < length { try fill() }
        let body = Array(buffer[0..<length])
        buffer.removeFirst(length)
        return (status, body)
    }

    private func find(_ pattern: [UInt8]) -> Int? {
        guard buffer.count >= pattern.count else { return nil }
        for i in 0...(buffer.count - pattern.count) where buffer[i] == pattern[0] && Array(buffer[i..<(i + pattern.count)]) == pattern {
            return i
        }
        return nil
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &chunk, chunk.count, 0)
        guard n > 0 else { throw ValidationError("connection closed") }
        buffer += chunk[0..<n]
    }

    private func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw ValidationError("send failed") }
            offset += n
        }
    }
}
