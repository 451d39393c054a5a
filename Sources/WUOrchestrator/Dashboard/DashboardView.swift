import WUProtocol

/// Renders `DashboardData` as the HTML fragment the dashboard's script swaps into the page.
///
/// Every user-supplied string (job, runner and token names, reasons, stderr tails, unit ids) is
/// interpolated as `String` into `HTML` and so escaped; numbers are rendered as numbers. Colours
/// and sizes live in `app.css` (the page's CSP allows no inline style), so bars are SVG rectangles
/// whose geometry is attributes.
enum DashboardView {
    static func render(_ data: DashboardData) -> HTML {
        var sections: [HTML] = []
        if data.identity.role != .runner {
            sections.append(jobs(data))
            sections.append(throughput(data.throughput))
            if let selected = data.selected { sections.append(job(selected, by: data.identity, now: data.now)) }
        }
        if let runners = data.runners { sections.append(self.runners(runners, leases: data.nowRunning, now: data.now)) }
        sections.append(leaderboard(data.leaderboard))
        if data.identity.role != .runner { sections.append(failures(data.failures, now: data.now)) }
        if let change = data.nextStatusChange, change > data.now {
            // Heartbeats publish no events: the script renders again when a runner would turn stale or offline.
            sections.append("<div id=\"view-meta\" hidden data-render-again-in-ms=\"\(change - data.now)\"></div>")
        }
        return HTML(sections)
    }

    // MARK: Jobs

    static func jobs(_ data: DashboardData) -> HTML {
        // Links keep the filter: opening a job does not reset the table.
        let filter = data.stateFilter.map { "state=\($0)&" } ?? ""
        let rows: [HTML] = data.jobs.map { job in
            """
            <tr class="job state-\(job.state)" data-job-id="\(job.id)" data-state="\(job.state)" data-progress="\(job.percent)">\
            <td><a href="#\(filter)job=\(job.id)">\(job.id)</a></td>\
            <td class="name"><a href="#\(filter)job=\(job.id)">\(job.name)</a></td>\
            <td>\(job.owner)</td>\
            <td><span class="badge \(job.state)">\(job.state)</span></td>\
            <td>\(bar(job))</td>\
            <td class="num percent">\(job.percent) %</td>\
            <td class="num">\(job.valid)/\(job.total)</td>\
            <td class="age">\(ago(job.createdAt, now: data.now))</td>\
            </tr>
            """
        }
        let empty: HTML =
            data.stateFilter == nil
            ? "<tr><td colspan=\"8\" class=\"empty\">No jobs yet: submit one with <code>wu submit</code>.</td></tr>"
            : "<tr><td colspan=\"8\" class=\"empty\">No \(data.stateFilter ?? "") jobs.</td></tr>"
        let body: HTML = rows.isEmpty ? empty : HTML(rows)
        return """
            <section id="jobs-section"><h2>Jobs</h2>\(stateFilter(data.stateFilter))\
            <table id="jobs"><thead><tr><th>id</th><th>name</th><th>owner</th><th>state</th><th>units</th><th></th><th>valid</th><th>submitted</th></tr></thead>\
            <tbody>\(body)</tbody></table>\
            <p class="legend"><span class="key valid"></span>valid <span class="key running"></span>running \
            <span class="key failed"></span>failed <span class="key cancelled"></span>cancelled <span class="key queued"></span>queued</p></section>
            """
    }

    /// `all · pending · running · …`: links that filter the jobs table by state, the current one marked.
    static func stateFilter(_ current: String?) -> HTML {
        let links: [HTML] = ([nil] + DashboardData.jobStates.map { Optional($0) }).map { state in
            let label = state ?? "all"
            let href = state.map { "#state=\($0)" } ?? "#"
            return state == current
                ? "<a class=\"filter current\" aria-current=\"true\" data-filter=\"\(label)\" href=\"\(href)\">\(label)</a>"
                : "<a class=\"filter\" data-filter=\"\(label)\" href=\"\(href)\">\(label)</a>"
        }
        let separated: [HTML] = links.enumerated().flatMap { index, link in index == 0 ? [link] : [" · ", link] }
        return "<nav id=\"job-filter\">\(HTML(separated))</nav>"
    }

    /// A stacked bar: valid, running, failed, cancelled, queued units.
    static func bar(_ job: DashboardData.JobRow) -> HTML {
        let total = max(job.total, 1)
        var x = 0
        var rects: [HTML] = []
        let parts = [("valid", job.valid), ("running", job.running), ("failed", job.failed), ("cancelled", job.cancelled), ("queued", job.queued)]
        for (part, count) in parts where count > 0 {
            let width = count * 1000 / total
            rects.append("<rect class=\"\(part)\" x=\"\(x)\" y=\"0\" width=\"\(width)\" height=\"10\"><title>\(count) \(part)</title></rect>")
            x += width
        }
        return """
            <svg class="bar" viewBox="0 0 1000 10" preserveAspectRatio="none" role="img" \
            aria-label="\(job.valid) valid, \(job.running) running, \(job.failed) failed, \(job.cancelled) cancelled, \(job.queued) queued">\(rects)</svg>
            """
    }

    // MARK: Throughput

    static func throughput(_ t: DashboardData.Throughput) -> HTML {
        let peak = max(1, zip(t.completed, t.failed).map { $0 + $1 }.max() ?? 1)
        let width = 12
        var bars: [HTML] = []
        for i in 0..<t.completed.count {
            let ok = t.completed[i] * 60 / peak
            let bad = t.failed[i] * 60 / peak
            let x = i * (width + 2)
            let secondsAgo = (t.completed.count - i) * Int(DashboardData.Throughput.bucketMs / 1000)
            bars.append(
                """
                <g><title>\(t.completed[i]) completed, \(t.failed[i]) failed, \(secondsAgo) to \(secondsAgo - 30) s ago</title>\
                <rect class="valid" x="\(x)" y="\(70 - ok)" width="\(width)" height="\(ok)"></rect>\
                <rect class="failed" x="\(x)" y="\(70 - ok - bad)" width="\(width)" height="\(bad)"></rect></g>
                """
            )
        }
        let total = t.completed.reduce(0, +)
        let failed = t.failed.reduce(0, +)
        let minutes = t.completed.count * Int(DashboardData.Throughput.bucketMs / 1000) / 60
        return """
            <section id="throughput-section"><h2>Throughput</h2>\
            <svg id="throughput" class="chart" viewBox="0 0 \(t.completed.count * (width + 2)) 72" preserveAspectRatio="none" role="img" \
            aria-label="copies finished per 30 seconds">\
            <line class="axis" x1="0" y1="70.5" x2="\(t.completed.count * (width + 2))" y2="70.5"></line>\(bars)</svg>\
            <p class="legend">\(total) copies completed, \(failed) failed in the last \(minutes) min \
            (peak \(peak) per 30 s)</p></section>
            """
    }

    // MARK: One job

    static func job(_ selected: DashboardData.Selected, by identity: Identity, now: Int64) -> HTML {
        guard let job = selected.job else {
            return """
                <section id="job-detail"><h2>Job \(selected.id)</h2><p class="error">\(selected.error ?? "not found")</p>\
                <p><a href="#">close</a></p></section>
                """
        }
        let reasons: [HTML] = job.failureReasons.map { "<li>\(firstLine($0, limit: 300))</li>" }
        let waiting: [HTML] = job.waiting.map { "<li data-code=\"\($0.code)\">\($0.line)</li>" }
        var rows: [HTML] = []
        let limit = 300
        for unit in selected.units {
            let unitName: String = unit.isAggregate ? "aggregate" : unit.unitID
            if unit.copies.isEmpty {
                rows.append("<tr class=\"unit\" data-unit=\"\(unitName)\"><td>\(unitName)</td><td>\(unit.state)</td><td colspan=\"11\"></td></tr>")
            }
            for copy in unit.copies {
                let usage = copy.usage
                rows.append(
                    """
                    <tr class="copy" data-unit="\(unitName)" data-copy-state="\(copy.state)">\
                    <td>\(unitName)</td><td><span class="badge \(unit.state)">\(unit.state)</span></td>\
                    <td><span class="badge \(copy.state)">\(copy.state)</span></td>\
                    <td>\(copy.runnerName ?? "")</td><td class="num">\(copy.attempts)</td>\
                    <td class="num">\(copy.progress.map { percent($0) } ?? "")</td>\
                    <td class="num">\(usage.map { duration($0.wallMs) } ?? "")</td>\
                    <td class="num">\(usage.map { duration($0.cpuUserMs + $0.cpuSystemMs) } ?? "")</td>\
                    <td class="num">\(usage.map { bytes($0.peakMemoryBytes) } ?? "")</td>\
                    <td class="num">\(usage.map { exit($0) } ?? "")</td>\
                    <td class="denied">\(usage.map { $0.deniedSummary } ?? "")</td>\
                    <td>\(digest(copy.outputDigest))</td>\
                    <td>\(unit.failure?.message ?? unit.waitingReason ?? copy.failReason.map { firstLine($0, limit: 200) } ?? "")</td></tr>
                    """
                )
            }
            if rows.count >= limit { break }
        }
        let more: HTML = selected.units.count > 0 && rows.count >= limit ? "<p class=\"legend\">First \(limit) copies shown.</p>" : .empty
        return """
            <section id="job-detail" data-job-id="\(job.jobID)" data-state="\(job.state)"><h2>Job \(job.jobID): <span class="name">\(job.name)</span> \
            <span class="badge \(job.state)">\(job.state)</span> <a class="close" href="#">close</a></h2>\
            \(identity.role == .admin || identity.name == job.owner ? actions(job) : .empty)\
            <p>version \(job.version) · owner \(job.owner) · signed by \(job.signerKeyID) · \(job.replicas) replicas, quorum \(job.quorum) · \
            priority \(job.priority) · \(percent(job.progress)) of \(job.unitsTotal) units valid\
            \(job.resultDigest == nil ? HTML.empty : " · result ready")</p>\
            \(reasons.isEmpty ? HTML.empty : "<ul class=\"reasons\">\(reasons)</ul>")\
            \(waiting.isEmpty ? HTML.empty : "<h3>Why units wait</h3><ul id=\"waiting\" class=\"waiting\">\(waiting)</ul>")\
            <table id="units"><thead><tr><th>unit</th><th>unit state</th><th>copy</th><th>runner</th><th>attempts</th><th>progress</th>\
            <th>wall</th><th>cpu</th><th>peak memory</th><th>exit</th><th>denied syscalls</th>\
            <th title="the digest of the copy's output: copies of a unit agree when their digests are equal">output</th><th>reason</th></tr></thead><tbody>\(rows)</tbody></table>\(more)</section>
            """
    }

    /// Pause, resume and cancel, as far as the job's state allows them (the rules of `Scheduler.control`);
    /// the page's script posts each to `/v1/jobs/{id}/{action}`.
    static func actions(_ job: JobView) -> HTML {
        let buttons: [HTML] = Scheduler.JobAction.allCases.filter { $0.applies(to: job.state) }.map { action in
            "<button type=\"button\" class=\"action \(action.rawValue)\" data-action=\"\(action.rawValue)\" data-job-id=\"\(job.jobID)\">\(action.label)</button>"
        }
        return buttons.isEmpty ? .empty : "<p id=\"job-actions\" class=\"actions\">\(buttons)</p>"
    }

    /// A copy's output digest, shortened, the whole of it on hover.
    static func digest(_ value: String?) -> HTML {
        guard let value else { return .empty }
        return "<code class=\"digest\" title=\"\(value)\">\(value.prefix(12))</code>"
    }

    // MARK: Runners, leaderboard, failures

    static func runners(_ runners: [RunnerView], leases: [String: [DashboardData.Lease]], now: Int64) -> HTML {
        let rows: [HTML] = runners.map { r in
            let held = leases[r.runnerID] ?? []
            let links: [HTML] = held.prefix(4).map { " <a href=\"#job=\($0.jobID)\">\($0.jobID)/\($0.unit)</a>" }
            let more: HTML = held.count > 4 ? " +\(held.count - 4)" : .empty
            return """
                <tr class="runner" data-runner-id="\(r.runnerID)" data-status="\(r.status)">\
                <td class="name">\(r.name)</td><td><span class="badge \(r.status)">\(r.status)</span></td>\
                <td class="num">\(cpus(r.capacity.millicpus))</td><td class="num">\(bytes(r.capacity.memoryBytes))</td>\
                <td class="num">\(bytes(r.capacity.diskBytes))</td><td class="num">\(r.capacity.gpus)</td>\
                <td class="running">\(r.runningCopies)\(links)\(more)</td><td class="num">\(r.reputation)</td>\
                <td class="num">\(r.valid)/\(r.invalid)</td><td>\(r.arch)</td><td>\(r.version)</td>\
                <td class="age">\(ago(r.lastSeenAt, now: now))</td></tr>
                """
        }
        let body: HTML = rows.isEmpty ? "<tr><td colspan=\"12\" class=\"empty\">No runners registered.</td></tr>" : HTML(rows)
        return """
            <section id="runners-section"><h2>Runners</h2><table id="runners"><thead><tr><th>name</th><th>status</th><th>cpus</th>\
            <th>memory</th><th title="\(diskNote)">disk *</th><th>gpus</th><th>running</th><th>reputation</th><th>valid/invalid</th><th>arch</th><th>version</th>\
            <th>last seen</th></tr></thead><tbody>\(body)</tbody></table><p id="disk-note" class="legend">* \(diskNote)</p></section>
            """
    }

    /// Why a runner started with `--disk 1G` shows 768 MiB.
    static let diskNote =
        "disk is what a runner offers units: three quarters of its --disk (a quarter is kept for its bundle cache), "
        + "so --disk 1G shows as 768 MiB"

    static func leaderboard(_ entries: [LeaderboardEntry]) -> HTML {
        let rows: [HTML] = entries.map { e in
            """
            <tr class="leader" data-runners="\(e.runners)"><td class="num">\(e.rank)</td><td class="name">\(e.name)</td>\
            <td class="num">\(e.reputation)</td><td class="num">\(e.consecutiveValid)</td><td class="num">\(e.valid)</td>\
            <td class="num">\(e.invalid)</td></tr>
            """
        }
        let body: HTML = rows.isEmpty ? "<tr><td colspan=\"6\" class=\"empty\">Nobody has earned credit yet.</td></tr>" : HTML(rows)
        return """
            <section id="leaderboard-section"><h2>Leaderboard</h2><table id="leaderboard"><thead><tr><th>#</th><th>volunteer</th>\
            <th>reputation</th><th>streak</th><th>valid</th><th>invalid</th></tr></thead><tbody>\(body)</tbody></table></section>
            """
    }

    static func failures(_ failures: [DashboardData.FailureRow], now: Int64) -> HTML {
        let rows: [HTML] = failures.map { f in
            let status: String =
                if let signal = f.signal { "signal \(signal)" } else if let code = f.exitCode { "exit \(code)" } else { "" }
            return """
                <li class="failure" data-job-id="\(f.jobID)"><p><span class="age">\(ago(f.at, now: now))</span> \
                <a href="#job=\(f.jobID)">job \(f.jobID) <span class="name">\(f.jobName)</span></a> unit \(f.unit)\
                \(f.runner.map { " on \($0)" as HTML } ?? .empty): <span class="reason">\(firstLine(f.reason, limit: 200))</span> \(status)</p>\
                \(f.stderrTail.isEmpty ? HTML.empty : "<pre class=\"stderr\">\(f.stderrTail)</pre>")</li>
                """
        }
        let body: HTML = rows.isEmpty ? "<li class=\"empty\">No failures.</li>" : HTML(rows)
        return "<section id=\"failures-section\"><h2>Recent failures</h2><ul id=\"failures\">\(body)</ul></section>"
    }

    // MARK: Formatting

    /// The first line of `text`, at most `limit` characters (the stderr tail is shown whole below it).
    static func firstLine(_ text: String, limit: Int) -> String {
        let line = text.prefix { $0 != "\n" }
        return line.count > limit || line.count < text.count ? String(line.prefix(limit)) + "…" : text
    }

    static func ago(_ time: Int64, now: Int64) -> String {
        let seconds = max(0, (now - time) / 1000)
        if seconds < 60 { return "\(seconds) s ago" }
        if seconds < 3600 { return "\(seconds / 60) min ago" }
        if seconds < 86400 { return "\(seconds / 3600) h ago" }
        return "\(seconds / 86400) d ago"
    }

    static func percent(_ fraction: Double) -> String { "\(Int((max(0, min(1, fraction)) * 100).rounded(.down))) %" }

    static func cpus(_ millicpus: Int) -> String { tenths(Int64(millicpus), 1000) }

    static func duration(_ ms: Int64) -> String { ms < 1000 ? "\(ms) ms" : tenths(ms, 1000) + " s" }

    static func bytes(_ n: Int64) -> String {
        let units: [(Int64, String)] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (size, name) in units where n >= size { return tenths(n, size) + " " + name }
        return "\(n) B"
    }

    static func exit(_ usage: ResourceUsage) -> String {
        if usage.oomKilled { return "OOM" }
        if usage.timedOut { return "timeout" }
        if usage.diskExceeded { return "disk" }
        if let signal = usage.signal { return "signal \(signal)" }
        return usage.exitCode.map { String($0) } ?? ""
    }

    /// `n / unit` with one decimal, dropping a trailing `.0`.
    static func tenths(_ n: Int64, _ unit: Int64) -> String {
        let t = (n * 10 + unit / 2) / unit
        return t % 10 == 0 ? "\(t / 10)" : "\(t / 10).\(t % 10)"
    }
}

extension Scheduler.JobAction {
    /// The button's text.
    var label: String {
        switch self {
        case .cancel: "Cancel job"
        case .pause: "Pause"
        case .resume: "Resume"
        }
    }
}
