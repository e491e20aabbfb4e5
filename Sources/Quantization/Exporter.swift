import Foundation
import ModelGraph
import ModelIO
import QuantCore

/// Turns a calibration result into a compressed model folder.
public enum Exporter {
    /// What an export wrote.
    public struct Summary: Sendable {
        public var quantizedTensors: Int
        public var floatTensors: Int
        /// Bytes of the `*.safetensors` files in the new folder.
        public var weightBytes: Int
    }

    /// Quantizes the calibrated model's weights and writes the compressed folder at `output`
    /// (atomically). `extraFiles` (e.g. `encodings.json`) are written into the folder too.
    @discardableResult
    public static func export(_ calibration: CalibrationResult, to output: String,
                              extraFiles: [String: [UInt8]] = [:]) throws -> Summary {
        let weightsPath = WeightStores.weightsPath(ofFolder: calibration.modelPath)
        let digest = try SHA256.hexDigest(ofFile: weightsPath)
        guard digest == calibration.sourceSHA256 else {
            throw QuantizationPipelineError.sourceChanged(path: weightsPath, expected: calibration.sourceSHA256, actual: digest)
        }
        let store = try WeightStores.open(calibration.modelPath)
        var records: [QuantizedTensorRecord] = []
        var floats: [RawTensor] = []
        if let stray = calibration.adjustedWeights.keys.sorted().first(where: { calibration.weightEncodings[$0] == nil }) {
            throw QuantizationPipelineError.invalidCalibration(path: CalibrationResult.adjustedWeightsFileName,
                                                               reason: "adjusted weight '\(stray)' has no encoding")
        }
        for info in store.tensors {
            if let encoding = calibration.weightEncodings[info.name] {
                // A technique's adjusted tensor (on the encoding's grid) replaces the source's.
                let tensor = try calibration.adjustedWeights[info.name] ?? store.floatTensor(named: info.name)
                guard tensor.shape == info.shape else {
                    throw QuantizationPipelineError.invalidCalibration(
                        path: CalibrationResult.adjustedWeightsFileName,
                        reason: "adjusted weight '\(info.name)' has shape \(tensor.shape), the model's is \(info.shape)")
                }
                records.append(try record(for: tensor, named: info.name, encoding: encoding))
            } else {
                floats.append(try store.rawTensor(named: info.name))
            }
        }
        let missing = Set(calibration.weightEncodings.keys).subtracting(records.map(\.name))
        if let first = missing.sorted().first { throw QuantizationPipelineError.missingWeight(tensor: first) }
        let contents = CompressedModelContents(
            quantized: records, floats: floats, recipe: try recipeJSON(calibration.recipe), sourceSHA256: digest,
            activationEncodings: try activationJSON(calibration.activationEncodings), extraFiles: extraFiles)
        try CompressedModelWriter.write(contents, copyingFrom: calibration.modelPath, to: output)
        return Summary(quantizedTensors: records.count, floatTensors: floats.count, weightBytes: Evaluator.weightBytes(in: output))
    }

    /// The stored form of one quantized weight.
    public static func record(for tensor: Tensor, named name: String, encoding: Encoding) throws -> QuantizedTensorRecord {
        let values = try Quantizer.quantize(tensor, with: encoding, tensorName: name)
        let symmetric = encoding.scheme.symmetry == .symmetric
        return try QuantizedTensorRecord(name: name, bits: encoding.scheme.bits, symmetric: symmetric, shape: tensor.shape,
                                         values: values, scales: encoding.scales, scaleShape: encoding.scaleShape,
                                         zeroPoints: symmetric ? nil : encoding.zeroPoints)
    }

    /// The recipe as JSON (sorted keys), for `__metadata__`.
    static func recipeJSON(_ recipe: QuantizationRecipe) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try JSONParser.parse(Array(try encoder.encode(recipe)), path: "recipe")
    }

    /// Activation encodings as JSON in aimet-swift's grid convention, by node name.
    static func activationJSON(_ encodings: [String: Encoding]) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try JSONParser.parse(Array(try encoder.encode(encodings)), path: "activation encodings")
    }

    /// Activation encodings read back from a compressed model's `__metadata__`.
    public static func activationEncodings(from json: JSONValue) throws -> [String: Encoding] {
        let data = Data(JSONWriter(sortedKeys: true).string(json).utf8)
        return try JSONDecoder().decode([String: Encoding].self, from: data)
    }
}
