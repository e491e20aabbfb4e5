import Foundation

/// Reading and writing the plain-text files the toolkit consumes and produces
/// (prompt lists, JSONL outputs).
public enum TextFile {
    /// The lines of a UTF-8 file, taken verbatim: blank and whitespace-only lines are kept,
    /// only the line feed that ends each line is removed (a final line feed adds no line).
    public static func lines(atPath path: String) throws -> [String] {
        let file = try MappedFile(path: path)
        guard let text = String(validating: file.bytes, as: UTF8.self) else {
            throw ModelIOError.invalidHeader(path: path, reason: "not valid UTF-8 text")
        }
        if text.isEmpty { return [] }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if text.hasSuffix("\n") { lines.removeLast() }
        return lines
    }

    /// Writes `text` to `path` atomically (temporary file, then rename).
    public static func write(_ text: String, toPath path: String) throws {
        try AtomicFile.write(Data(text.utf8), to: path)
    }
}
