extension SandboxProfile {
    /// The profile as JSON in the format of `sandbox-profiles/*.json`, two-space indented.
    ///
    /// Sizes are written in bytes and durations in milliseconds; parsing the text gives back an
    /// equal profile (but for ``sourceBytes``).
    public var jsonText: String {
        let w = JSONWriter()
        w.object {
            w.field("name", string: name)
            if !description.isEmpty { w.field("description", string: description) }
            w.field("namespaces", strings: namespaces.map(\.rawValue))
            w.field("network", string: network)
            w.field("hostname", string: hostname)
            w.field("mounts") {
                w.array(mounts) { m in
                    w.object {
                        w.field("source", string: m.source)
                        if m.target != m.source { w.field("target", string: m.target) }
                        if m.optional { w.field("optional", raw: "true") }
                    }
                }
            }
            w.field("devices", strings: devices)
            w.field("limits") {
                w.object {
                    let cpus = Double(limits.maxMillicpus) / 1000
                    w.field("max_cpus", raw: cpus == cpus.rounded() ? String(Int(cpus)) : String(cpus))
                    w.field("max_memory", raw: String(limits.maxMemoryBytes))
                    w.field("max_pids", raw: String(limits.maxPids))
                    w.field("max_disk", raw: String(limits.maxDiskBytes))
                    w.field("max_wall_time", string: "\(limits.maxWallTimeMs)ms")
                    w.field("open_files", raw: String(limits.openFiles))
                    w.field("tmp_size", raw: String(limits.tmpSizeBytes))
                }
            }
            w.field("environment") {
                w.object {
                    for key in environment.keys.sorted() { w.field(key, string: environment[key]!) }
                }
            }
            w.field("seccomp") {
                w.object {
                    w.field("defaultAction", string: seccomp.defaultAction.rawValue)
                    w.field("defaultErrnoRet", raw: String(seccomp.defaultErrnoRet))
                    w.field("syscalls") {
                        w.array(seccomp.syscalls) { rule in
                            w.object {
                                if let comment = rule.comment { w.field("comment", string: comment) }
                                w.field("names", strings: rule.names)
                                w.field("action", string: rule.action.rawValue)
                                if let e = rule.errnoRet { w.field("errnoRet", raw: String(e)) }
                                if !rule.args.isEmpty {
                                    w.field("args") {
                                        w.array(rule.args) { a in
                                            w.object {
                                                w.field("index", raw: String(a.index))
                                                w.field("value", raw: String(a.value))
                                                if a.valueTwo != 0 { w.field("valueTwo", raw: String(a.valueTwo)) }
                                                w.field("op", string: a.op.rawValue)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return w.text + "\n"
    }
}

/// A small pretty-printing JSON writer: objects and arrays one item per line, arrays of strings on one.
final class JSONWriter {
    private(set) var text = ""
    private var depth = 0
    private var first = [true]

    private func item() {
        if !first[first.count - 1] { text += "," }
        first[first.count - 1] = false
        text += "\n" + String(repeating: "  ", count: depth)
    }

    func object(_ body: () -> Void) {
        text += "{"
        depth += 1
        first.append(true)
        body()
        let empty = first.removeLast()
        depth -= 1
        text += empty ? "}" : "\n" + String(repeating: "  ", count: depth) + "}"
    }

    func array<T>(_ items: [T], _ each: (T) -> Void) {
        text += "["
        depth += 1
        first.append(true)
        for x in items {
            item()
            each(x)
        }
        let empty = first.removeLast()
        depth -= 1
        text += empty ? "]" : "\n" + String(repeating: "  ", count: depth) + "]"
    }

    func field(_ key: String, _ value: () -> Void) {
        item()
        text += JSONValue.quoted(key) + ": "
        value()
    }

    func field(_ key: String, raw: String) { field(key) { text += raw } }
    func field(_ key: String, string: String) { field(key, raw: JSONValue.quoted(string)) }
    func field(_ key: String, strings: [String]) { field(key, raw: "[" + strings.map(JSONValue.quoted).joined(separator: ", ") + "]") }
}
