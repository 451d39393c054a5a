import CArchive
import Testing
import WUCore
@testable import WUImages
#if canImport(Glibc)
import Glibc
#endif

/// `wu pack` with `"image"`: the manifest pins the image, the bundle carries its blobs after the
/// payload, and the verifier holds them to the manifest like payload files.
@Suite struct ImageBundleTests {
    let key = SigningKey.generate(name: "alice")

    /// A job using an image layout at `image/` (two layers, gzip and zstd) and its bundle.
    func packJob(in tmp: Scratch) throws -> (BundlePacker.Packed, [LayerBytes]) {
        let layers = [try layer(try busyboxEntries(), .gzip), try layer([.text("etc/extra", "x\n")], .zstd)]
        try tmp.write("job/wu.json", Array(#"{"name": "imaged", "command": ["/bin/sh", "/code/run.sh"], "image": "image", "units": [{"id": "u"}]}"#.utf8))
        try tmp.write("job/code/run.sh", Array("cat /etc/marker > /out/marker\n".utf8), mode: 0o755)
        try writeLayout(tmp.path + "/job/image", [ImageSpec(layers: layers)])
        let packed = try BundlePacker.pack(jobDirectory: tmp.path + "/job", key: key, output: tmp.path + "/job.wu", loadImage: ImageReader.load)
        return (packed, layers)
    }

    @Test func packPinsTheImageAndVerifyChecksItsBlobs() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let (packed, layers) = try packJob(in: tmp)
        let image = try #require(packed.manifest.image)
        #expect(image.layers == layers.map(\.layer))
        #expect(packed.manifest.resources.arch == Platform.hostMachine)
        #expect(packed.manifest.files.map(\.path) == ["code/run.sh"])
        // Format 2, so a reader from before images refuses the job instead of running it on its own /usr.
        #expect(packed.manifest.format == Manifest.imageFormat)
        var old = packed.manifest
        old.format = Manifest.currentFormat
        expectWUError(.invalidManifest, containing: "format 1 cannot carry an image") { try old.validate() }
        // The payload, then the config and each layer, named by digest; no scratch left beside the bundle.
        let names = try bundleEntries(tmp.path + "/job.wu").map(\.name)
        #expect(names == ["WU-MANIFEST.json", "WU-SIGNATURE", "code/run.sh", "WU-IMAGE/sha256/" + image.config.sha256] + layers.map { "WU-IMAGE/sha256/" + $0.layer.sha256 })
        #expect(try FileIO.listDirectory(tmp.path).sorted() == ["job", "job.wu"])

        let trust = TrustStore(keys: [key.publicKey])
        let verified = try BundleReader.extract(.file(tmp.path + "/job.wu"), trusting: trust, to: tmp.path + "/out")
        #expect(verified.manifest == packed.manifest)
        for blob in layers {
            #expect(try FileIO.readFile(tmp.path + "/out/WU-IMAGE/sha256/" + blob.layer.sha256, limit: 64 << 20) == blob.blob)
        }
        let text = BundleDescription.text(of: verified.manifest, signerKeyID: key.publicKey.keyID)
        #expect(text.contains("image      linux/\(hostArchitecture), 2 layer(s)"))
        #expect(text.contains("tar+gzip") && text.contains("tar+zstd") && text.contains(layers[1].layer.digest))
        #expect(text.contains(#"entrypoint "/bin/sh", cmd (none)"#) && text.contains("workdir    /srv, user 1000"))
        #expect(text.contains("used       only the layers"))

        // Packing again gives the same bytes.
        let first = try FileIO.readFile(tmp.path + "/job.wu", limit: 64 << 20)
        _ = try BundlePacker.pack(jobDirectory: tmp.path + "/job", key: key, output: tmp.path + "/again.wu", loadImage: ImageReader.load)
        #expect(try FileIO.readFile(tmp.path + "/again.wu", limit: 64 << 20) == first)
    }

    @Test func tamperedMissingDuplicateAndUnlistedLayersAreRefused() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let (packed, _) = try packJob(in: tmp)
        let trust = TrustStore(keys: [key.publicKey])
        let entries = try bundleEntries(tmp.path + "/job.wu")
        let layerPath = "WU-IMAGE/sha256/" + packed.manifest.image!.layers[1].sha256
        func refused(_ code: WUError.Code, _ fragment: String, _ edit: (inout [(name: String, bytes: [UInt8])]) -> Void) throws {
            var changed = entries
            edit(&changed)
            try write(tmp.path + "/bad.wu", try compress(try tar(changed.map { .file($0.name, $0.bytes) }), .zstd))
            expectWUError(code, containing: fragment) { _ = try BundleReader.verify(.file(tmp.path + "/bad.wu"), trusting: trust) }
        }
        try refused(.tamperedFile, "\(layerPath) has SHA-256") { $0[5].bytes[$0[5].bytes.count / 2] ^= 1 }
        try refused(.missingEntry, "\(layerPath) is listed in the manifest but missing") { $0.removeLast() }
        try refused(.duplicateEntry, "\(layerPath) appears twice") { $0.append($0[5]) }
        try refused(.unlistedEntry, "WU-IMAGE/sha256/\(String(repeating: "0", count: 64)) is in the archive but not in the signed manifest") {
            $0.append(("WU-IMAGE/sha256/" + String(repeating: "0", count: 64), [1]))
        }
        try refused(.entryOrder, "comes before") { $0.swapAt(4, 5) }
    }

    @Test func anImageOutsideTheJobIsRefused() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        try writeLayout(tmp.path + "/elsewhere", [ImageSpec(layers: [try layer([.text("a", "a")])])])
        try tmp.write("job/wu.json", Array(#"{"name": "x", "command": ["/bin/true"], "image": "image", "units": [{"id": "u"}]}"#.utf8))
        try tmp.write("job/code/x", [1])
        symlink(tmp.path + "/elsewhere", tmp.path + "/job/image")
        expectWUError(.invalidJobSpec, containing: "leads outside the job directory") {
            _ = try BundlePacker.pack(jobDirectory: tmp.path + "/job", key: key, output: tmp.path + "/x.wu", loadImage: ImageReader.load)
        }
        #expect(try FileIO.listDirectory(tmp.path).sorted() == ["elsewhere", "job"])
    }
}

/// Every entry of a `.wu` file, in order.
func bundleEntries(_ path: String) throws -> [(name: String, bytes: [UInt8])] {
    let archive = archive_read_new()!
    defer { archive_read_free(archive) }
    archive_read_support_filter_zstd(archive)
    archive_read_support_format_tar(archive)
    guard archive_read_open_filename(archive, path, 1 << 16) == ARCHIVE_OK else { throw WUError(.io, "cannot open \(path)") }
    var entries: [(name: String, bytes: [UInt8])] = []
    var entry: OpaquePointer?
    while archive_read_next_header(archive, &entry) == ARCHIVE_OK {
        var bytes = [UInt8](repeating: 0, count: Int(archive_entry_size(entry)))
        if !bytes.isEmpty { _ = bytes.withUnsafeMutableBytes { archive_read_data(archive, $0.baseAddress, $0.count) } }
        entries.append((String(cString: archive_entry_pathname(entry)), bytes))
    }
    return entries
}
