// wu-bench-sandbox: spawn-to-exit of /bin/true as the runner pays it (in process, no Swift start),
// against bubblewrap started from the same process with the same binds and seccomp filter.
// Used by scripts/bench-sandbox.sh; prints one JSON object.
import Glibc
import WUProtocol
import WUSandbox

func nowNs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

func cpuNs(_ who: __rusage_who) -> Int64 {
    var ru = rusage()
    getrusage(__rusage_who_t(who.rawValue), &ru)
    func ns(_ t: timeval) -> Int64 { Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_usec) * 1000 }
    return ns(ru.ru_utime) + ns(ru.ru_stime)
}

func median(_ xs: [Int64]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : (s.count % 2 == 1 ? Double(s[s.count / 2]) : Double(s[s.count / 2 - 1] + s[s.count / 2]) / 2)
}

let args = CommandLine.arguments
let runs = args.count > 1 ? Int(args[1]) ?? 200 : 200
let bwrapArgs = args.count > 2 ? Array(args[2...]) : []

let tLoad0 = nowNs()
let profile = try SandboxProfile.load(named: "default")
let tLoad1 = nowNs()
if getenv("WU_BENCH_STARTUP") != nil {
    let tCap0 = nowNs()
    let capProbe = try VolunteerCap.shared(name: "exec")
    let tCap1 = nowNs()
    let tH0 = nowNs(); _ = CgroupHierarchy.detect(); let tH1 = nowNs()
    _ = try VolunteerCap.shared(name: "exec"); let tH2 = nowNs()
    print("detect again \(Double(tH1 - tH0) / 1e6) ms, shared again \(Double(tH2 - tH1) / 1e6) ms")
    _ = try Sandbox(profile: profile, cap: capProbe)
    let tF = nowNs()
    let again = try SandboxProfile.load(named: "default")
    let tAgain = nowNs()
    print("profile load \(Double(tLoad1 - tLoad0) / 1e6) ms (again \(Double(tAgain - tF) / 1e6)), cap \(Double(tCap1 - tCap0) / 1e6) ms, filter \(Double(tF - tCap1) / 1e6) ms, \(again.name)")
    exit(0)
}
// `--write-filter FILE`: the default profile's compiled filter, for bwrap --seccomp (the cache
// directory is shared by every wu on the machine, so its newest file may be another profile's).
if args.count == 3, args[1] == "--write-filter" {
    let bytes = try SeccompFilter.compile(profile).bytes
    let fd = open(args[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    precondition(fd >= 0 && bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count, "cannot write \(args[2])")
    close(fd)
    exit(0)
}
let cap = getenv("WU_BENCH_NO_CGROUPS") != nil ? VolunteerCap.unlimited() : try VolunteerCap.create(name: "bench-\(getpid())")
defer { cap.remove() }
let sandbox = try Sandbox(profile: profile, cap: cap)
// The same without the denied-syscall report, to show what the report costs a unit denied nothing.
let plain = try Sandbox(profile: profile, cap: cap, reportDeniedSyscalls: false)
// As the runner runs units: its sandbox set up ahead, on a background thread, while earlier units run.
let ahead = try Sandbox(profile: profile, cap: cap, prepareAhead: 1)
defer { ahead.discardPrepared() }
/// Waits (unmeasured) until the next prepared sandbox is ready, so that preparing never overlaps
/// another measurement.
func awaitPrepared() {
    var spins = 0
    while ahead.preparedCount < 1 && spins < 20_000 { usleep(100); spins += 1 }
    precondition(ahead.preparedCount >= 1, "no sandbox was prepared within 2 s")
}
// WU_BENCH_ASYNC=1: through `Sandbox.run` (async, its own thread per unit) as the runner calls it.
let async = getenv("WU_BENCH_ASYNC") != nil
let request = SandboxRequest(command: ["/bin/true"], limits: .init(memoryBytes: 256 << 20, millicpus: 1000, pids: 64, wallTimeMs: 10_000))

let cArgs: [UnsafeMutablePointer<CChar>?] = bwrapArgs.map { strdup($0) } + [nil]
func spawnBwrap(_ cArgs: [UnsafeMutablePointer<CChar>?], _ bwrapArgs: [String]) {
    var pid: pid_t = 0
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    // bwrap --seccomp 9 reads the filter from descriptor 9.
    if bwrapArgs.contains("--seccomp") {
        posix_spawn_file_actions_addopen(&actions, 9, ProcessInfoLite.seccompFile, O_RDONLY, 0)
    }
    let rc = posix_spawnp(&pid, cArgs[0]!, &actions, nil, cArgs, environ)
    posix_spawn_file_actions_destroy(&actions)
    precondition(rc == 0, "cannot start bwrap")
    var st: Int32 = 0
    waitpid(pid, &st, 0)
    precondition(st == 0, "bwrap failed with status \(st)")
}

// Warm-up, then wu and bwrap interleaved, so that load on a shared machine hits both alike.
for _ in 0..<10 {
    _ = try sandbox.runBlocking(request)
    awaitPrepared()
    _ = try ahead.runBlocking(request)
    if !bwrapArgs.isEmpty { spawnBwrap(cArgs, bwrapArgs) }
}
var wu: [Int64] = []
var wuPlain: [Int64] = []
var wuAhead: [Int64] = []
var aheadCPU: Int64 = 0
var bw: [Int64] = []
var selfCPU: Int64 = 0
var childCPU: Int64 = 0
for _ in 0..<runs {
    let s0 = cpuNs(RUSAGE_SELF)
    let c0 = cpuNs(RUSAGE_CHILDREN)
    let t0 = nowNs()
    let r = async ? try await sandbox.run(request) : try sandbox.runBlocking(request)
    wu.append(nowNs() - t0)
    selfCPU += cpuNs(RUSAGE_SELF) - s0
    childCPU += cpuNs(RUSAGE_CHILDREN) - c0
    precondition(r.usage.exitCode == 0, "unit failed: \(r.usage.stderrTail)")
    let tp = nowNs()
    _ = async ? try await plain.run(request) : try plain.runBlocking(request)
    wuPlain.append(nowNs() - tp)
    // The prepared sandbox: the start is measured; the CPU counts the next one's preparation too.
    awaitPrepared()
    let a0 = cpuNs(RUSAGE_SELF) + cpuNs(RUSAGE_CHILDREN)
    let ta = nowNs()
    let ra = async ? try await ahead.run(request) : try ahead.runBlocking(request)
    wuAhead.append(nowNs() - ta)
    precondition(ra.usage.exitCode == 0, "unit failed in a prepared sandbox: \(ra.usage.stderrTail)")
    awaitPrepared()
    aheadCPU += cpuNs(RUSAGE_SELF) + cpuNs(RUSAGE_CHILDREN) - a0
    if !bwrapArgs.isEmpty {
        let t1 = nowNs()
        spawnBwrap(cArgs, bwrapArgs)
        bw.append(nowNs() - t1)
    }
}
let selfCPUPer = Double(selfCPU) / Double(runs)
let childCPUPer = Double(childCPU) / Double(runs)

enum ProcessInfoLite {
    static var seccompFile: String { getenv("WU_BENCH_SECCOMP_FILE").map { String(cString: $0) } ?? "/dev/null" }
}

let wuMedian = median(wu) / 1e6
let bwMedian = median(bw) / 1e6
let plainMedian = median(wuPlain) / 1e6
let aheadMedian = median(wuAhead) / 1e6
print(
    """
    {"runs": \(runs), "wu_median_ms": \(wuMedian), "bwrap_median_ms": \(bwMedian), \
    "ratio": \(bwMedian > 0 ? wuMedian / bwMedian : 0), "wu_runner_cpu_ms_per_start": \(selfCPUPer / 1e6), \
    "wu_total_cpu_ms_per_start": \((selfCPUPer + childCPUPer) / 1e6), \
    "wu_without_report_median_ms": \(plainMedian), "report_cost_ratio": \(plainMedian > 0 ? wuMedian / plainMedian : 0), \
    "wu_prepared_median_ms": \(aheadMedian), "prepared_ratio": \(bwMedian > 0 ? aheadMedian / bwMedian : 0), \
    "wu_prepared_total_cpu_ms_per_start": \(Double(aheadCPU) / Double(runs) / 1e6)}
    """
)
