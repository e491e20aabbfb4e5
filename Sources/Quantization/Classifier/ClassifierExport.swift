import Foundation
import ModelGraph
import ModelIO
import QuantCore
import Runtime

/// Writes and loads compressed image classifiers: the calibrated graph's parameters (quantized
/// where they have an encoding, fp32 otherwise) in the compressed-model format, with
/// `graph.json` and `classifier.json` so the runtime rebuilds the rewritten graph.
public enum ClassifierExport {
    /// Quantizes `calibration`'s graph and writes the compressed folder at `output` atomically.
    @discardableResult
    public static func export(_ calibration: ClassifierCalibration, to output: String,
                              extraFiles: [String: [UInt8]] = [:]) throws -> Exporter.Summary {
        let result = calibration.result
        var records: [QuantizedTensorRecord] = []
        var floats: [RawTensor] = []
        for (name, tensor) in try ClassifierFiles.parameterTensors(of: calibration.graph) {
            if let encoding = result.weightEncodings[name] {
                records.append(try Exporter.record(for: tensor, named: name, encoding: encoding))
            } else {
                floats.append(RawTensor(name: name, tensor: tensor))
            }
        }
        let planned = Set(result.weightEncodings.keys), written = Set(records.map(\.name))
        if let first = planned.subtracting(written).sorted().first { throw QuantizationPipelineError.missingWeight(tensor: first) }
        var files = extraFiles
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted]
        files[calibrationNotesFileName] = Array(try encoder.encode(result.notes))
        for (name, bytes) in try ClassifierFiles.describing(graph: calibration.graph, input: calibration.classifierInput,
                                                            preprocessing: calibration.preprocessingName, source: result.modelPath) {
            files[name] = bytes
        }
        let contents = CompressedModelContents(
            quantized: records, floats: floats, recipe: try Exporter.recipeJSON(result.recipe), sourceSHA256: result.sourceSHA256,
            activationEncodings: try Exporter.activationJSON(result.activationEncodings), extraFiles: files)
        try CompressedModelWriter.write(contents, copyingFrom: nil, to: output)
        return Exporter.Summary(quantizedTensors: records.count, floatTensors: floats.count, weightBytes: Evaluator.weightBytes(in: output))
    }

    /// What calibration said (techniques applied, layers skipped and why), kept beside the model.
    public static let calibrationNotesFileName = "calibration-notes.json"

    /// The calibration notes of an exported classifier folder (empty when there are none).
    public static func calibrationNotes(of path: String) throws -> [String] {
        let notesPath = URL(fileURLWithPath: path).appendingPathComponent(calibrationNotesFileName).path
        guard FileManager.default.fileExists(atPath: notesPath) else { return [] }
        let file = try MappedFile(path: notesPath)
        do {
            return try JSONDecoder().decode([String].self, from: Data(file.bytes))
        } catch {
            throw QuantizationPipelineError.invalidModel(path: notesPath, reason: "not a JSON list of strings: \(error)")
        }
    }

    /// The activation encodings a compressed classifier folder carries (empty for fp32 models).
    public static func activationEncodings(of path: String) throws -> [String: Encoding] {
        guard CompressedModel.isCompressed(folder: path) else { return [:] }
        return try Exporter.activationEncodings(from: CompressedModel(folder: path).activationEncodings)
    }
}
