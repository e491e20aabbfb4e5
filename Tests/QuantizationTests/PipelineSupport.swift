import AimetTestSupport
import Foundation
import ModelIO
import Quantization
import QuantCore

/// Paths and shared fixtures of the quantization tests.
enum PipelinePaths {
    static var repositoryRoot: URL { TestLocations.repositoryRoot }

    static var miniLMFolder: String {
        let folder = TestLocations.miniLMFolder
        precondition(FileManager.default.fileExists(atPath: folder), "missing \(folder): run `make models` first")
        return folder
    }

    static func prompts(_ count: Int) throws -> [String] {
        Array(try TextFile.lines(atPath: repositoryRoot.appendingPathComponent("Calibration/text/calibration.txt").path).prefix(count))
    }

    static func heldout(_ count: Int) throws -> [String] {
        Array(try TextFile.lines(atPath: repositoryRoot.appendingPathComponent("Calibration/text/heldout.txt").path).prefix(count))
    }

    static func temporaryFolder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("aimet-quantization-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func recipe(bits: Int, granularity: Granularity, activations: ActivationPrecision) throws -> QuantizationRecipe {
        QuantizationRecipe(weights: try QuantScheme(bits: bits, symmetry: .symmetric, granularity: granularity),
                           activations: activations, embeddings: QuantizationRecipe.defaultEmbeddingScheme())
    }

    /// Calibrates and exports MiniLM with `recipe` on a few prompts; returns the folder.
    static func export(_ recipe: QuantizationRecipe, prompts count: Int = 8) throws -> (CalibrationResult, String) {
        let calibration = try Calibrator.calibrate(modelFolder: miniLMFolder, prompts: try prompts(count), recipe: recipe)
        let output = try temporaryFolder() + "/model"
        try Exporter.export(calibration, to: output, extraFiles: try AimetEncodingsExport.files(for: calibration))
        return (calibration, output)
    }
}
