public import Prometheus

/// The orchestrator's Prometheus metrics, served at `GET /metrics`.
///
/// Counters move as transactions commit; the copies-by-state gauges are read from the store at
/// each scrape.
public final class OrchestratorMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let claims: Counter
    let claimedCopies: Counter
    let completions: Counter
    let failures: Counter
    let requeues: Counter
    let validCopies: Counter
    let invalidCopies: Counter
    let claimLatency: DurationHistogram
    let requestLatency: DurationHistogram
    let copies: [String: Gauge]
    let writeTransactions: Gauge
    let writes: Gauge

    static let copyStates = ["queued", "leased", "uploaded", "valid", "invalid", "failed", "cancelled"]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        claims = registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "wu", metricName: "claims", unitName: "total", helpText: "Claim requests answered")
        )
        claimedCopies = registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "wu", metricName: "claimed_copies", unitName: "total", helpText: "Copies leased to runners")
        )
        completions = registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "wu", metricName: "completions", unitName: "total", helpText: "Completions recorded")
        )
        failures = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "wu",
                metricName: "copy_failures",
                unitName: "total",
                helpText: "Copy failures and expired leases that counted an attempt"
            )
        )
        requeues = registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "wu", metricName: "requeues", unitName: "total", helpText: "Copies put back in the queue")
        )
        validCopies = registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "wu", metricName: "validations", unitName: "total", helpText: "Copies validated"),
            labels: [("result", "valid")]
        )
        invalidCopies = registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "wu", metricName: "validations", unitName: "total", helpText: "Copies validated"),
            labels: [("result", "invalid")]
        )
        let buckets: [Duration] = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
            .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30),
        ]
        claimLatency = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "wu",
                metricName: "claim_duration",
                unitName: "seconds",
                helpText: "Claim latency, long-poll included"
            ),
            buckets: buckets
        )
        requestLatency = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "wu",
                metricName: "http_request_duration",
                unitName: "seconds",
                helpText: "HTTP request latency"
            ),
            buckets: buckets
        )
        var copies: [String: Gauge] = [:]
        for state in Self.copyStates {
            copies[state] = registry.makeGauge(
                descriptor: MetricNameDescriptor(namespace: "wu", metricName: "copies", unitName: "", helpText: "Copies of units by state"),
                labels: [("state", state)]
            )
        }
        self.copies = copies
        writeTransactions = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "wu",
                metricName: "write_transactions",
                unitName: "",
                helpText: "SQLite write transactions committed since start"
            )
        )
        writes = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "wu",
                metricName: "writes",
                unitName: "",
                helpText: "State changes committed since start (grouped into write transactions)"
            )
        )
    }

    func record(_ counters: Transaction.Counters) {
        if counters.claimed > 0 { claimedCopies.increment(by: Int64(counters.claimed)) }
        if counters.completed > 0 { completions.increment(by: Int64(counters.completed)) }
        if counters.failed > 0 { failures.increment(by: Int64(counters.failed)) }
        if counters.requeued > 0 { requeues.increment(by: Int64(counters.requeued)) }
        if counters.valid > 0 { validCopies.increment(by: Int64(counters.valid)) }
        if counters.invalid > 0 { invalidCopies.increment(by: Int64(counters.invalid)) }
    }

    func observeClaim(seconds duration: Duration, count: Int) {
        claims.increment()
        claimLatency.record(duration)
    }

    /// The text exposition format.
    func render(copyCounts: [String: Int], writeTotals: (transactions: UInt64, writes: UInt64)) -> [UInt8] {
        for state in Self.copyStates { copies[state]?.set(Double(copyCounts[state] ?? 0)) }
        writeTransactions.set(Double(writeTotals.transactions))
        writes.set(Double(writeTotals.writes))
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
