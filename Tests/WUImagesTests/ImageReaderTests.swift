import CArchive
import Testing
import WUCore
@testable import WUImages
#if canImport(Glibc)
import Glibc
#endif

/// `wu pack`'s side: the three forms an image comes in, the platform chosen from an index, and
/// every digest, size and diff_id checked. Images are built here from the static busybox.
@Suite struct ImageReaderTests {
    @Test func aLayoutDirectoryIsPinnedLayerByLayer() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let base = try layer(try busyboxEntries(), .gzip)
        let top = try layer([.text("etc/extra", "x\n")], .zstd)
        try writeLayout(tmp.path + "/layout", [ImageSpec(layers: [base, top])])
        try FileIO.makeDirectories(tmp.path + "/scratch")
        let packable = try ImageReader.load(path: tmp.path + "/layout", arch: nil, scratch: tmp.path + "/scratch")
        #expect(packable.image.layers == [base.layer, top.layer])
        #expect(packable.image.architecture == hostArchitecture && packable.machine == Platform.hostMachine)
        #expect(packable.image.entrypoint == ["/bin/sh"] && packable.image.env == ["PATH=/bin"] && packable.image.workingDir == "/srv")
        #expect(packable.image.user == "1000")
        for sha256 in [packable.image.config.sha256, base.layer.sha256, top.layer.sha256] {
            let bytes = try FileIO.readFile(packable.blobSources[sha256]!, limit: 64 << 20)
            #expect(Digest.sha256(bytes) == sha256)
        }
    }

    @Test func anOCIArchiveGivesTheSameImageAsItsLayout() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        try writeLayout(tmp.path + "/layout", [ImageSpec(layers: [try layer(try busyboxEntries(), .gzip)])])
        try ociArchive(of: tmp.path + "/layout", to: tmp.path + "/image.tar")
        try FileIO.makeDirectories(tmp.path + "/s1")
        try FileIO.makeDirectories(tmp.path + "/s2")
        let fromDirectory = try ImageReader.load(path: tmp.path + "/layout", arch: nil, scratch: tmp.path + "/s1")
        let fromArchive = try ImageReader.load(path: tmp.path + "/image.tar", arch: nil, scratch: tmp.path + "/s2")
        #expect(fromArchive.image == fromDirectory.image)
        #expect(fromArchive.blobSources.values.allSatisfy { $0.hasPrefix(tmp.path + "/s2/layout/blobs/sha256/") })
    }

    /// `tar -C rootfs -c .`: one layer with the tar's own bytes, and a config made the same every time.
    @Test func aRootfsTarBecomesAOneLayerImageDeterministically() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let entries: [LayerEntry] = [.directory("."), .directory("./bin")] + (try busyboxEntries()).dropFirst()
        let plain = try tar(entries)
        try write(tmp.path + "/rootfs.tar", plain)
        try write(tmp.path + "/rootfs.tar.zst", try compress(plain, .zstd))
        var configs: [String] = []
        for (index, name) in ["rootfs.tar", "rootfs.tar", "rootfs.tar.zst"].enumerated() {
            try FileIO.makeDirectories(tmp.path + "/s\(index)")
            let packable = try ImageReader.load(path: tmp.path + "/" + name, arch: nil, scratch: tmp.path + "/s\(index)")
            #expect(packable.image.layers.count == 1)
            #expect(packable.image.layers[0].diffID == "sha256:" + Digest.sha256(plain))
            #expect(packable.image.layers[0].mediaType == (index == 2 ? "application/vnd.oci.image.layer.v1.tar+zstd" : "application/vnd.oci.image.layer.v1.tar"))
            let config = String(decoding: try FileIO.readFile(packable.blobSources[packable.image.config.sha256]!), as: UTF8.self)
            #expect(config == #"{"architecture":"\#(hostArchitecture)","config":{},"os":"linux","rootfs":{"diff_ids":["sha256:\#(Digest.sha256(plain))"],"type":"layers"}}"#)
            configs.append(packable.image.config.digest)
        }
        #expect(Set(configs).count == 1)
    }

    @Test func aMultiArchIndexGivesThePlatformAsked() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let amd = try layer([.text("arch", "amd64\n")])
        let arm = try layer([.text("arch", "arm64\n")])
        try writeLayout(
            tmp.path + "/layout",
            [ImageSpec(layers: [amd], architecture: "amd64", platformInIndex: true), ImageSpec(layers: [arm], architecture: "arm64", platformInIndex: true)]
        )
        for (index, (arch, expected)) in [("x86_64", amd), ("aarch64", arm)].enumerated() {
            try FileIO.makeDirectories(tmp.path + "/s\(index)")
            let packable = try ImageReader.load(path: tmp.path + "/layout", arch: arch, scratch: tmp.path + "/s\(index)")
            #expect(packable.image.layers == [expected.layer] && packable.machine == arch)
        }
        expectWUError(.invalidJobSpec, containing: "holds no image for linux/riscv64 (it has: linux/amd64, linux/arm64)") {
            _ = try ImageReader.load(path: tmp.path + "/layout", arch: "riscv64", scratch: tmp.path)
        }
    }

    /// Docker v2 media types (a docker image copied by skopeo keeps them); the layers unpack as OCI's.
    @Test func dockerV2MediaTypesAreRead() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let layers = [try layer(try busyboxEntries(), .gzip), try layer([.text("etc/.wh.marker", "")], .none)]
        try writeLayout(tmp.path + "/layout", [ImageSpec(layers: layers, docker: true)])
        let packable = try ImageReader.load(path: tmp.path + "/layout", arch: nil, scratch: tmp.path)
        #expect(packable.image.config.mediaType == "application/vnd.docker.container.image.v1+json")
        #expect(packable.image.layers.map(\.mediaType) == ["application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.docker.image.rootfs.diff.tar"])
        let blobs = packable.image.layers.map { LayerUnpacker.Blob(path: packable.blobSources[$0.sha256]!, layer: $0) }
        _ = try LayerUnpacker.unpack(blobs, into: tmp.path + "/root", limits: .init(maxBytes: 64 << 20))
        #expect(listTree(tmp.path + "/root") == ["bin", "bin/busybox", "bin/sh", "etc"])
    }

    @Test func anImageForAnotherArchitectureIsRefused() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let other = hostArchitecture == "amd64" ? "s390x" : "amd64"
        try writeLayout(tmp.path + "/layout", [ImageSpec(layers: [try layer([.text("a", "a")])], architecture: other)])
        expectWUError(.invalidJobSpec, containing: "the image is for linux/\(other)") {
            _ = try ImageReader.load(path: tmp.path + "/layout", arch: nil, scratch: tmp.path)
        }
    }

    @Test func aLayerWhoseBytesDoNotMatchItsDigestIsRefused() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let good = try layer([.text("a", "the real layer\n")], .none)
        try writeLayout(tmp.path + "/layout", [ImageSpec(layers: [good])])
        var evil = good.blob
        evil[600] ^= 0x01  // a byte of the file's data: still a tar, same size, another digest
        try write(tmp.path + "/layout/blobs/sha256/" + good.layer.sha256, evil)
        expectWUError(.tamperedFile, containing: "has digest") {
            _ = try ImageReader.load(path: tmp.path + "/layout", arch: nil, scratch: tmp.path)
        }
    }

    @Test func configDiffIDsThatDisagreeWithTheLayersAreRefused() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let real = try layer([.text("a", "a\n")])
        let other = try layer([.text("b", "b\n")])
        try writeLayout(tmp.path + "/layout", [ImageSpec(layers: [real], diffIDs: [other.diffID])])
        expectWUError(.tamperedFile, containing: "but the image's diff_id is \(other.diffID)") {
            _ = try ImageReader.load(path: tmp.path + "/layout", arch: nil, scratch: tmp.path)
        }
        try writeLayout(tmp.path + "/two", [ImageSpec(layers: [real], diffIDs: [real.diffID, other.diffID])])
        expectWUError(.tamperedFile, containing: "2 diff_ids for 1 layers") {
            _ = try ImageReader.load(path: tmp.path + "/two", arch: nil, scratch: tmp.path)
        }
    }

    @Test func aBlobThatIsASymlinkOutOfTheLayoutIsRefused() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let real = try layer([.text("a", "a\n")])
        try writeLayout(tmp.path + "/layout", [ImageSpec(layers: [real])])
        let blob = tmp.path + "/layout/blobs/sha256/" + real.layer.sha256
        try write(tmp.path + "/outside", real.blob)
        unlink(blob)
        symlink(tmp.path + "/outside", blob)
        expectWUError(.invalidJobSpec, containing: "is missing from") {
            _ = try ImageReader.load(path: tmp.path + "/layout", arch: nil, scratch: tmp.path)
        }
    }
}
