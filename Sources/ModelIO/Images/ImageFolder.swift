import Foundation

/// The images of one folder, decoded, with a warning for each file that could not be.
public struct ImageFolderContents: Sendable, Equatable {
    /// The decoded images, in file-name order (byte-wise, so the same on every platform).
    public let images: [NamedImage]
    /// One line per file that failed to decode, naming the file and the reason.
    public let warnings: [String]
}

/// Reads every image in a folder (for `calibrate --images DIR` and `eval --images DIR`).
public enum ImageFolder {
    /// Decodes every regular, non-hidden file directly inside `directory` (not its
    /// subfolders) as PNG or JPEG. A file that fails becomes a warning naming it, and the
    /// rest are still read; when none decodes, throws `.noDecodableImages`. A missing path is
    /// `.fileNotFound`, a path that is not a folder `.cannotOpen`.
    public static func load(directory: String) throws -> ImageFolderContents {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw ModelIOError.fileNotFound(path: directory)
        }
        guard isDirectory.boolValue else { throw ModelIOError.cannotOpen(path: directory, reason: "not a folder") }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ModelIOError.cannotOpen(path: directory, reason: error.localizedDescription)
        }
        let candidates = names.filter { !$0.hasPrefix(".") }.sorted { Array($0.utf8).lexicographicallyPrecedes($1.utf8) }
        var images: [NamedImage] = []
        var warnings: [String] = []
        for name in candidates {
            let path = (directory as NSString).appendingPathComponent(name)
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue { continue }
            do {
                images.append(NamedImage(name: name, image: try ImageDecoder.decode(path: path)))
            } catch let error as ModelIOError {
                warnings.append("skipped \(error.description)")
            }
        }
        guard !images.isEmpty else {
            let reason = candidates.isEmpty ? "the folder holds no files" : "\(warnings.count) file(s) failed: " + warnings.joined(separator: "; ")
            throw ModelIOError.noDecodableImages(directory: directory, reason: reason)
        }
        return ImageFolderContents(images: images, warnings: warnings)
    }
}
