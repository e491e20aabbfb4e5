import Foundation
import ModelIO

/// Which source photos are for calibration and which for evaluation, read from a committed
/// list (`Calibration/images/split.tsv`). Lines are `role<TAB>photo<TAB>source<TAB>file`:
/// `role` is `calibration` or `evaluation`, `photo` a unique name, `source` the scene it
/// shows (two photos of one scene, like a stereo pair, share it), `file` the path relative to
/// the model cache. Blank lines and lines starting with `#` are ignored. No source may appear
/// under both roles, so no augmentation of a calibration photo can reach evaluation.
public struct ImageSplit: Sendable, Equatable {
    /// The role of a photo.
    public enum Role: String, Sendable, Equatable {
        case calibration
        case evaluation
    }

    /// One photo of the split.
    public struct Entry: Sendable, Equatable {
        public let role: Role
        public let photo: String
        public let source: String
        public let file: String
    }

    /// Every entry in file order.
    public let entries: [Entry]

    /// Parses the list; `path` names it in errors (`RuntimeError.invalidConfiguration`).
    public init(lines: [String], path: String) throws {
        var entries: [Entry] = []
        for (number, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard fields.count == 4, fields.allSatisfy({ !$0.isEmpty }) else {
                throw RuntimeError.invalidConfiguration(path: path, reason: "line \(number + 1): expected 4 tab-separated fields")
            }
            guard let role = Role(rawValue: fields[0]) else {
                throw RuntimeError.invalidConfiguration(path: path, reason: "line \(number + 1): unknown role '\(fields[0])'")
            }
            entries.append(Entry(role: role, photo: fields[1], source: fields[2], file: fields[3]))
        }
        var photos = Set<String>()
        var roleOfSource: [String: Role] = [:]
        for entry in entries {
            guard photos.insert(entry.photo).inserted else {
                throw RuntimeError.invalidConfiguration(path: path, reason: "photo '\(entry.photo)' is listed twice")
            }
            if let role = roleOfSource[entry.source], role != entry.role {
                throw RuntimeError.invalidConfiguration(
                    path: path, reason: "source '\(entry.source)' is used for both calibration and evaluation")
            }
            roleOfSource[entry.source] = entry.role
        }
        self.entries = entries
    }

    /// Reads and parses the list at `path`.
    public static func load(path: String) throws -> ImageSplit {
        let lines: [String]
        do {
            lines = try TextFile.lines(atPath: path)
        } catch let error as ModelIOError {
            if case .fileNotFound = error { throw RuntimeError.missingFile(path: path) }
            throw RuntimeError.unreadableFile(path: path, reason: error.description)
        }
        return try ImageSplit(lines: lines, path: path)
    }

    /// The entries of one role, in file order.
    public func entries(_ role: Role) -> [Entry] { entries.filter { $0.role == role } }

    /// Decodes the photos of `role` from the model cache folder `cacheRoot`, keyed by photo name.
    public func decodeImages(_ role: Role, cacheRoot: String) throws -> [String: DecodedImage] {
        var images: [String: DecodedImage] = [:]
        for entry in entries(role) {
            images[entry.photo] = try ImageDecoder.decode(path: (cacheRoot as NSString).appendingPathComponent(entry.file))
        }
        return images
    }

    /// The evaluation set: `itemsPerPhoto` views of every evaluation photo (32 each by
    /// default; the committed split has 10 evaluation photos, so 320 inputs).
    public func evaluationSet(itemsPerPhoto: Int = 32, seed: UInt64 = 0) -> ImageSet {
        ImageSet.augmented(photos: entries(.evaluation).map(\.photo), itemsPerPhoto: itemsPerPhoto, seed: seed)
    }

    /// The calibration set: `itemsPerPhoto` views of every calibration photo.
    public func calibrationSet(itemsPerPhoto: Int = 8, seed: UInt64 = 0) -> ImageSet {
        ImageSet.augmented(photos: entries(.calibration).map(\.photo), itemsPerPhoto: itemsPerPhoto, seed: seed)
    }
}
