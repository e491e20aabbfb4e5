import Foundation
import ModelIO
import Testing

@Suite struct EmbedCommandTests {
    @Test func inputFileLinesAreTakenVerbatimAndKeptInOrder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let lines = ["First line.", "", "   ", "  leading and trailing spaces  ", "Ünïcödé 中文 😀", "\tTabbed"]
        let input = folder.appendingPathComponent("input.txt").path
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: input))
        let output = folder.appendingPathComponent("out.jsonl").path
        let result = try CommandRunner.run(["embed", "--model", CachedModels.miniLMFolder, "--input", input,
                                            "--output", output, "--batch-size", "4"])
        #expect(result.status == 0, "\(result.standardError)")
        let written = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(written.count == lines.count + 1 && written.last == "")
        for (index, line) in written.dropLast().enumerated() {
            let record = try JSONParser.parse(String(line), path: "out.jsonl")
            #expect(record.objectValue?.keys == ["text", "embedding"])
            #expect(record["text"]?.stringValue == lines[index])
            let vector = record["embedding"]?.arrayValue?.compactMap(\.doubleValue) ?? []
            #expect(vector.count == 384)
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-4)
        }
    }

    @Test func similarityMatrixRanksParaphrasesHighest() throws {
        let result = try CommandRunner.run(["embed", "--model", CachedModels.miniLMFolder, "--similarity",
                                            "--text", "A man is eating food.", "--text", "A man is eating a piece of bread.",
                                            "--text", "The girl is carrying a baby."])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("0.755"), "\(result.standardOutput)")
    }

    @Test func textAndInputTogetherIsAValidationError() throws {
        let result = try CommandRunner.run(["embed", "--model", CachedModels.miniLMFolder, "--text", "a", "--input", "/tmp/x.txt"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("--text"))
    }

    @Test func longInputsAreTruncatedAndSaidSo() throws {
        let long = String(repeating: "word ", count: 400)
        let result = try CommandRunner.run(["embed", "--model", CachedModels.miniLMFolder, "--text", long, "--text", "short"])
        #expect(result.status == 0)
        #expect(result.standardError.contains("1 input(s) were longer than 256 tokens"))
    }

    @Test func missingModelFolderIsNamed() throws {
        let result = try CommandRunner.run(["embed", "--model", "/nonexistent/model", "--text", "a"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("/nonexistent/model"))
    }
}
