import AimetTestSupport
import Foundation
import ModelIO
import Testing

@Suite struct AdaRoundCommandTests {
    @Test func unknownTechniqueListsTheAllowedValues() throws {
        let result = try CommandRunner.run(["calibrate", "--model", CachedModels.miniLMFolder, "--prompts", "p.txt",
                                            "--output", "/tmp/never", "--techniques", "adaround,magic"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("magic") && result.standardError.contains("allowed: bn-fold, cle, bias-correction, adaround, seq-mse"), "\(result.standardError)")
    }

    @Test func nonPositiveIterationCountIsRejected() throws {
        let result = try CommandRunner.run(["calibrate", "--model", CachedModels.miniLMFolder, "--prompts", "p.txt",
                                            "--output", "/tmp/never", "--techniques", "adaround", "--adaround-iterations", "0"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("--adaround-iterations"), "\(result.standardError)")
    }

    @Test func calibrateWithAdaRoundReportsEachLayerAndExports() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cli-adaround-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let prompts = TestLocations.repositoryRoot.appendingPathComponent("Calibration/text/calibration.txt").path
        let calibration = folder.appendingPathComponent("cal").path
        let result = try CommandRunner.run(["calibrate", "--model", CachedModels.miniLMFolder, "--prompts", prompts,
                                            "--weights", "int4", "--activations", "float", "--techniques", "seq-mse,adaround",
                                            "--adaround-iterations", "2", "--num-samples", "3", "--output", calibration])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardError.contains("sequential MSE chose the weight ranges of"), "\(result.standardError)")
        #expect(result.standardError.contains("adaround 36/36 encoder.layer.5.output.dense"), "\(result.standardError)")
        #expect(FileManager.default.fileExists(atPath: calibration + "/adjusted-weights.safetensors"))
        let export = try CommandRunner.run(["export", "--calibration", calibration, "--output", folder.appendingPathComponent("model").path])
        #expect(export.status == 0, "\(export.standardError)")
    }
}
