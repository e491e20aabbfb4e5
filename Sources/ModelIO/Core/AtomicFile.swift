import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files and folders so that a failure never leaves a partial result at the
/// destination: everything goes to a temporary sibling first and is renamed into place.
public enum AtomicFile {
    /// Writes `data` to `path` through a temporary file in the same folder.
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { temporaryPath in
            guard FileManager.default.createFile(atPath: temporaryPath, contents: data) else {
                throw ModelIOError.writeFailed(path: path, reason: "cannot create \(temporaryPath)")
            }
        }
    }

    /// Calls `produce` with a temporary path beside `path`, then renames the result onto
    /// `path`. If `produce` throws, the temporary file is removed and nothing changes at `path`.
    public static func write(to path: String, _ produce: (String) throws -> Void) throws {
        let destination = URL(fileURLWithPath: path)
        let folder = destination.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelIOError.writeFailed(path: path, reason: "folder \(folder.path) does not exist")
        }
        let temporary = folder.appendingPathComponent(".\(destination.lastPathComponent).tmp-\(UUID().uuidString)")
        do {
            try produce(temporary.path)
            try rename(from: temporary.path, to: destination.path)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            if let error = error as? ModelIOError { throw error }
            throw ModelIOError.writeFailed(path: path, reason: "\(error)")
        }
    }

    /// Renames with POSIX `rename(2)`: atomic, and replaces an existing file.
    static func rename(from source: String, to destination: String) throws {
        #if canImport(Glibc)
        let status = Glibc.rename(source, destination)
        #else
        let status = Darwin.rename(source, destination)
        #endif
        guard status == 0 else {
            throw ModelIOError.writeFailed(path: destination, reason: String(cString: strerror(errno)))
        }
    }
}
