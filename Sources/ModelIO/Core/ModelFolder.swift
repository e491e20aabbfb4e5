import Foundation

/// A model folder in the Hugging Face layout (config.json, tokenizer files, weights, and
/// sentence-transformers module folders). The only way other modules read its files.
public struct ModelFolder: Sendable {
    /// The folder's path.
    public let path: String

    /// Refers to the folder at `path`; fails when it is not a folder.
    public init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelIOError.fileNotFound(path: path)
        }
        guard isDirectory.boolValue else {
            throw ModelIOError.cannotOpen(path: path, reason: "expected a model folder")
        }
        self.path = path
    }

    /// The path of `relativePath` inside the folder.
    public func filePath(_ relativePath: String) -> String {
        URL(fileURLWithPath: path).appendingPathComponent(relativePath).path
    }

    /// True when `relativePath` exists inside the folder.
    public func contains(_ relativePath: String) -> Bool {
        FileManager.default.fileExists(atPath: filePath(relativePath))
    }

    /// Parses `relativePath` as JSON.
    public func json(_ relativePath: String) throws -> JSONValue {
        let file = try MappedFile(path: filePath(relativePath))
        return try JSONParser.parse(file.bytes, path: file.path)
    }

    /// Parses `relativePath` as JSON when it exists, nil otherwise.
    public func jsonIfPresent(_ relativePath: String) throws -> JSONValue? {
        contains(relativePath) ? try json(relativePath) : nil
    }

    /// The UTF-8 text of `relativePath`.
    public func text(_ relativePath: String) throws -> String {
        let file = try MappedFile(path: filePath(relativePath))
        guard let text = String(validating: file.bytes, as: UTF8.self) else {
            throw ModelIOError.invalidHeader(path: file.path, reason: "not valid UTF-8 text")
        }
        return text
    }

    /// Every regular file in the folder (recursively), as relative paths in sorted order.
    public func allFiles() throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: path) else {
            throw ModelIOError.cannotOpen(path: path, reason: "cannot list the folder")
        }
        var files: [String] = []
        while let next = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: filePath(next), isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(next)
            }
        }
        return files.sorted()
    }
}
