import AimetTestSupport
import Foundation

/// Where the tokenizer tests find their data: committed fixtures and the model cache.
enum TokenizerTestPaths {
    /// `Tests/Fixtures/tokenizer` in the source tree.
    static var fixtures: String { TestLocations.fixtures.appendingPathComponent("tokenizer").path }

    /// The all-MiniLM-L6-v2 model folder (`make models` downloads it).
    static var miniLMFolder: String { TestLocations.miniLMFolder }

    /// True when the MiniLM tokenizer files are in the cache.
    static var hasMiniLM: Bool {
        FileManager.default.fileExists(atPath: miniLMFolder + "/tokenizer.json")
            && FileManager.default.fileExists(atPath: miniLMFolder + "/vocab.txt")
    }

    /// A fresh empty temporary folder.
    static func temporaryFolder() throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("aimet-swift-runtime-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Writes `text` to `folder/name` and returns the path.
    @discardableResult
    static func write(_ text: String, to folder: String, as name: String) throws -> String {
        let path = folder + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}
