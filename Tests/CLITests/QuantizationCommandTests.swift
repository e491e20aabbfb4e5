import AimetTestSupport
import Foundation
import ModelIO
import Testing

@Suite struct QuantizationCommandTests {
    static var repository: URL { TestLocations.repositoryRoot }

    static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test(arguments: [["--weights", "int3x"], ["--granularity", "per-row"], ["--estimator", "median"], ["--activations", "int7"]])
    func unknownSchemeStringsListTheAllowedValues(arguments: [String]) throws {
        let result = try CommandRunner.run(["calibrate", "--model", CachedModels.miniLMFolder, "--prompts", "p.txt",
                                            "--output", "/tmp/never"] + arguments)
        #expect(result.status != 0)
        #expect(result.standardError.lowercased().contains("allowed") || result.standardError.contains("one of"),
                "\(result.standardError)")
    }

    @Test func emptyPromptFileNamesTheFile() throws {
        let folder = try Self.temporaryFolder()
        let prompts = folder.appendingPathComponent("empty.txt").path
        _ = FileManager.default.createFile(atPath: prompts, contents: Data())
        let result = try CommandRunner.run(["calibrate", "--model", CachedModels.miniLMFolder, "--prompts", prompts,
                                            "--output", folder.appendingPathComponent("cal").path])
        #expect(result.status != 0)
        #expect(result.standardError.contains("empty.txt"))
    }

    @Test func calibrateExportEvalCompareEndToEnd() throws {
        let folder = try Self.temporaryFolder()
        let prompts = Self.repository.appendingPathComponent("Calibration/text/calibration.txt").path
        let heldout = Self.repository.appendingPathComponent("Calibration/text/heldout.txt").path
        let calibration = folder.appendingPathComponent("cal").path, model = folder.appendingPathComponent("w8").path
        let report = folder.appendingPathComponent("report.json").path
        #expect(try CommandRunner.run(["calibrate", "--model", CachedModels.miniLMFolder, "--prompts", prompts, "--weights", "int8",
                                       "--activations", "float", "--num-samples", "4", "--output", calibration]).status == 0)
        #expect(try CommandRunner.run(["export", "--calibration", calibration, "--output", model]).status == 0)
        let embedded = try CommandRunner.run(["embed", "--model", model, "--text", "Compressed models embed too."])
        #expect(embedded.status == 0 && embedded.standardOutput.contains("\"embedding\""))
        let evaluation = try CommandRunner.run(["eval", "--reference", CachedModels.miniLMFolder, "--candidate", model,
                                                "--input", heldout, "--num-samples", "20", "--no-speed", "--report", report])
        #expect(evaluation.status == 0, "\(evaluation.standardError)")
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("report.md").path))
        // A report compared with itself passes; against a stricter made-up baseline it fails.
        #expect(try CommandRunner.run(["compare", report, report, "--max-cosine-drop", "0"]).status == 0)
        var json = try JSONParser.parse(String(contentsOfFile: report, encoding: .utf8), path: report).objectValue!
        var fidelity = json["fidelity"]!.objectValue!
        fidelity["mean_cosine"] = .number("1")
        json["fidelity"] = .object(fidelity)
        let perfect = folder.appendingPathComponent("perfect.json").path
        try JSONWriter().string(.object(json)).write(toFile: perfect, atomically: true, encoding: .utf8)
        let failing = try CommandRunner.run(["compare", perfect, report, "--max-cosine-drop", "0.00001"])
        #expect(failing.status != 0)
        #expect(failing.standardOutput.contains("FAIL"))
    }
}
