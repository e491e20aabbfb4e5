import Foundation
import ModelIO
import QuantCore

/// What `calibrate` computes and `export` consumes: the recipe, the source model, and an
/// encoding for every planned weight and activation quantizer.
public struct CalibrationResult: Sendable, Equatable, Codable {
    /// The schema version of `calibration.json`.
    public static let formatVersion = 1

    public var formatVersion: Int
    /// The source model folder.
    public var modelPath: String
    /// sha256 of the source weights file.
    public var sourceSHA256: String
    public var recipe: QuantizationRecipe
    /// Weight encodings by checkpoint tensor name.
    public var weightEncodings: [String: Encoding]
    /// Activation encodings by node name.
    public var activationEncodings: [String: Encoding]
    /// Calibration inputs used.
    public var sampleCount: Int
    /// What a reader should know (supergroups, truncated prompts, promoted quantizers).
    public var notes: [String]
    /// Weights changed by a technique (AdaRound), by checkpoint tensor name, each on its
    /// encoding's grid; `export` uses them instead of the source tensors. Stored beside
    /// `calibration.json` in `adjusted-weights.safetensors`, not in the JSON.
    public var adjustedWeights: [String: Tensor] = [:]
    /// What AdaRound did to each layer, when it ran.
    public var adaRoundLayers: [AdaRoundLayerReport]?
    /// What sequential MSE chose for each layer, when it ran.
    public var sequentialMSELayers: [SequentialMSELayerReport]?

    public init(modelPath: String, sourceSHA256: String, recipe: QuantizationRecipe, weightEncodings: [String: Encoding],
                activationEncodings: [String: Encoding], sampleCount: Int, notes: [String],
                adjustedWeights: [String: Tensor] = [:], adaRoundLayers: [AdaRoundLayerReport]? = nil,
                sequentialMSELayers: [SequentialMSELayerReport]? = nil) {
        formatVersion = CalibrationResult.formatVersion
        self.modelPath = modelPath
        self.sourceSHA256 = sourceSHA256
        self.recipe = recipe
        self.weightEncodings = weightEncodings
        self.activationEncodings = activationEncodings
        self.sampleCount = sampleCount
        self.notes = notes
        self.adjustedWeights = adjustedWeights
        self.adaRoundLayers = adaRoundLayers
        self.sequentialMSELayers = sequentialMSELayers
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version"
        case modelPath = "model"
        case sourceSHA256 = "source_sha256"
        case recipe
        case weightEncodings = "weight_encodings"
        case activationEncodings = "activation_encodings"
        case sampleCount = "samples"
        case notes
        case adaRoundLayers = "adaround_layers"
        case sequentialMSELayers = "seq_mse_layers"
    }

    /// The file name inside a calibration folder.
    public static let fileName = "calibration.json"

    /// Deterministic JSON (sorted keys).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try encoder.encode(self)
    }

    /// The file of adjusted weights inside a calibration folder (F32, checkpoint names).
    public static let adjustedWeightsFileName = "adjusted-weights.safetensors"

    /// Writes `calibration.json` into `folder` (created if needed), atomically, and the
    /// adjusted weights beside it when there are any (a stale file is removed otherwise).
    public func write(toFolder folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let weightsPath = URL(fileURLWithPath: folder).appendingPathComponent(Self.adjustedWeightsFileName).path
        if adjustedWeights.isEmpty {
            if FileManager.default.fileExists(atPath: weightsPath) { try FileManager.default.removeItem(atPath: weightsPath) }
        } else {
            let tensors = adjustedWeights.keys.sorted().map { RawTensor(name: $0, tensor: adjustedWeights[$0]!) }
            try SafetensorsWriter.write(tensors, metadata: ["source_sha256": sourceSHA256], to: weightsPath)
        }
        try AtomicFile.write(try jsonData(), to: URL(fileURLWithPath: folder).appendingPathComponent(Self.fileName).path)
    }

    /// Reads `calibration.json` from `folder`.
    public static func read(fromFolder folder: String) throws -> CalibrationResult {
        let path = URL(fileURLWithPath: folder).appendingPathComponent(fileName).path
        let file = try MappedFile(path: path)
        do {
            var result = try JSONDecoder().decode(CalibrationResult.self, from: Data(file.bytes))
            guard result.formatVersion == formatVersion else {
                throw QuantizationPipelineError.invalidCalibration(path: path, reason: "format_version \(result.formatVersion), this build reads \(formatVersion)")
            }
            let weightsPath = URL(fileURLWithPath: folder).appendingPathComponent(adjustedWeightsFileName).path
            if FileManager.default.fileExists(atPath: weightsPath) {
                let store = try SafetensorsStore(path: weightsPath)
                guard store.userMetadata["source_sha256"] == result.sourceSHA256 else {
                    throw QuantizationPipelineError.invalidCalibration(path: weightsPath, reason: "adjusted weights belong to another source model")
                }
                for info in store.tensors { result.adjustedWeights[info.name] = try store.floatTensor(named: info.name) }
            }
            return result
        } catch let error as QuantizationPipelineError {
            throw error
        } catch {
            throw QuantizationPipelineError.invalidCalibration(path: path, reason: "\(error)")
        }
    }
}
