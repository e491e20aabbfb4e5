import Foundation
@testable import ModelIO
import Testing

@Suite("Image folder")
struct ImageFolderTests {
    private func makeFolder(_ files: [String: [UInt8]]) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("aimet-images-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, bytes) in files {
            try Data(bytes).write(to: folder.appendingPathComponent(name))
        }
        return folder
    }

    @Test("decodes the good files in name order and warns about each bad one by name")
    func mixedFolder() throws {
        let png = try ImageFixtures.bytes("rgb.png")
        let jpeg = try ImageFixtures.bytes("grey.jpg")
        let folder = try makeFolder([
            "b-photo.jpg": jpeg, "a-photo.png": png, "c-cut.png": Array(png.prefix(100)),
            "notes.txt": Array("not an image".utf8), "empty.jpg": [], ".hidden.png": png,
        ])
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("sub"), withIntermediateDirectories: false)
        let contents = try ImageFolder.load(directory: folder.path)
        #expect(contents.images.map(\.name) == ["a-photo.png", "b-photo.jpg"])
        #expect(contents.images[1].image.channels == 1)
        #expect(contents.warnings.count == 3)
        for name in ["c-cut.png", "notes.txt", "empty.jpg"] {
            #expect(contents.warnings.contains { $0.contains(name) }, "no warning names \(name)")
        }
    }

    @Test("a folder where nothing decodes is a typed error listing the failures")
    func nothingDecodes() throws {
        let folder = try makeFolder(["a.png": Array(try ImageFixtures.bytes("rgb.png").prefix(40)), "b.txt": [65, 66]])
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect {
            try ImageFolder.load(directory: folder.path)
        } throws: { error in
            guard case let .noDecodableImages(directory, reason)? = error as? ModelIOError else { return false }
            return directory == folder.path && reason.contains("a.png") && reason.contains("b.txt")
        }
    }

    @Test("an empty folder, a missing folder and a file are typed errors")
    func badDirectories() throws {
        let folder = try makeFolder([:])
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: ModelIOError.noDecodableImages(directory: folder.path, reason: "the folder holds no files")) {
            try ImageFolder.load(directory: folder.path)
        }
        #expect(throws: ModelIOError.fileNotFound(path: folder.path + "/missing")) {
            try ImageFolder.load(directory: folder.path + "/missing")
        }
        #expect(throws: ModelIOError.cannotOpen(path: ImageFixtures.path("rgb.png"), reason: "not a folder")) {
            try ImageFolder.load(directory: ImageFixtures.path("rgb.png"))
        }
    }
}
