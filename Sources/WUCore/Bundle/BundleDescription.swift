/// Human-readable summaries of a manifest, for `wu inspect` and friends.
public enum BundleDescription {
    public static func text(of manifest: Manifest, signerKeyID: String) -> String {
        let r = manifest.resources
        var lines: [String] = []
        lines.append("job        \(manifest.name) \(manifest.version)")
        lines.append("signer     key \(signerKeyID) (not checked: use `wu verify --trust KEY.pub`)")
        lines.append("command    \(manifest.command.joined(separator: " "))")
        if !manifest.env.isEmpty {
            lines.append("env        " + manifest.env.keys.sorted().map { "\($0)=\(manifest.env[$0]!)" }.joined(separator: " "))
        }
        if let entry = manifest.profileFileEntry {
            lines.append("profile    \(manifest.profile) (carried in the bundle: \(entry.path), sha256 \(entry.sha256), \(entry.size) bytes)")
        } else {
            lines.append("profile    \(manifest.profile)")
        }
        var resources = "cpus \(Double(r.millicpus) / 1000), memory \(ByteSize.format(r.memoryBytes)), disk \(ByteSize.format(r.diskBytes)), "
        resources += "wall time \(DurationText.format(milliseconds: r.wallTimeMs)), pids \(r.pids)"
        if r.gpus > 0 { resources += ", gpus \(r.gpus)" }
        if let arch = r.arch { resources += ", arch \(arch)" }
        lines.append("resources  \(resources)")
        lines.append("redundancy \(manifest.redundancy.replicas) replica(s), quorum \(manifest.redundancy.quorum)")
        lines.append("on failure \((manifest.onUnitFailure ?? .failJob).rawValue) (on_unit_failure)")
        if let aggregate = manifest.aggregate { lines.append("aggregate  \(aggregate.command.joined(separator: " "))") }
        lines.append("units      \(manifest.units.count)")
        for unit in manifest.units {
            let args = unit.args.isEmpty ? "" : " args: \(unit.args.joined(separator: " "))"
            let inputs = unit.inputs.isEmpty ? "" : " inputs: \(unit.inputs.joined(separator: ", "))"
            lines.append("  \(unit.id)\(args)\(inputs)")
        }
        let total = manifest.files.reduce(Int64(0)) { $0 + $1.size }
        lines.append("files      \(manifest.files.count), \(ByteSize.format(total))")
        for file in manifest.files {
            lines.append("  \(String(file.mode, radix: 8)) \(ByteSize.format(file.size).padding(8)) \(file.sha256.prefix(16))… \(file.path)")
        }
        if let image = manifest.image { lines += imageLines(image) }
        return lines.joined(separator: "\n")
    }

    /// The image: its layers in order, what its config says, and the one line on what wu uses of it.
    static func imageLines(_ image: Manifest.Image) -> [String] {
        let total = image.layers.reduce(Int64(0)) { $0 + $1.size }
        var lines = ["image      \(image.os)/\(image.architecture), \(image.layers.count) layer(s), \(ByteSize.format(total)), config \(image.config.digest)"]
        for layer in image.layers {
            let kind = layer.compression.map { $0 == .none ? "tar" : "tar+\($0.rawValue)" } ?? layer.mediaType
            lines.append("  \(ByteSize.format(layer.size).padding(8)) \(kind.padding(8)) \(layer.digest)")
        }
        func quoted(_ list: [String]?) -> String { list.map { $0.map { "\"\($0)\"" }.joined(separator: " ") } ?? "(none)" }
        lines.append("  entrypoint \(quoted(image.entrypoint)), cmd \(quoted(image.cmd))")
        lines.append("  env        \(quoted(image.env))")
        lines.append("  workdir    \(image.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "(none)"), user \(image.user.flatMap { $0.isEmpty ? nil : $0 } ?? "(none)")")
        lines.append(
            "  used       only the layers (the unit's root) and the architecture; the command, env, working dir /code and user are the manifest's"
        )
        return lines
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
