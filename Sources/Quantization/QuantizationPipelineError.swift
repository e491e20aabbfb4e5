/// Failures of calibration, export and evaluation.
public enum QuantizationPipelineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No calibration inputs (empty or missing prompt file).
    case emptyCalibrationSet(path: String)
    /// A calibration result cannot be read or belongs to another format version.
    case invalidCalibration(path: String, reason: String)
    /// The model's weights changed since calibration.
    case sourceChanged(path: String, expected: String, actual: String)
    /// A weight holds NaN or infinity.
    case nonFiniteWeight(tensor: String)
    /// A planned weight is not in the model.
    case missingWeight(tensor: String)
    /// A graph technique (batch-norm folding, cross-layer equalization, bias correction)
    /// cannot work on a node: a malformed weight, a missing parameter, no calibration data.
    case invalidTechniqueInput(technique: String, node: String, reason: String)
    /// A model path cannot be loaded as asked (wrong kind of file, missing --arch, ...).
    case invalidModel(path: String, reason: String)
    /// A recipe asks for a technique this kind of model cannot take.
    case unsupportedTechnique(technique: String, model: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidModel(path, reason):
            return "\(path): \(reason)"
        case let .unsupportedTechnique(technique, model, reason):
            return "\(model): technique '\(technique)' is not supported here: \(reason)"
        case let .emptyCalibrationSet(path):
            return "\(path): no calibration inputs (the file is empty)"
        case let .invalidCalibration(path, reason):
            return "\(path): invalid calibration result: \(reason)"
        case let .sourceChanged(path, expected, actual):
            return "\(path): the weights changed since calibration (sha256 \(actual), calibrated \(expected))"
        case let .nonFiniteWeight(tensor):
            return "weight '\(tensor)' contains NaN or infinity"
        case let .missingWeight(tensor):
            return "planned weight '\(tensor)' is not in the model"
        case let .invalidTechniqueInput(technique, node, reason):
            return "\(technique): node '\(node)' \(reason)"
        }
    }
}
