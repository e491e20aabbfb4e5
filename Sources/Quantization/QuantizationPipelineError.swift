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

    public var description: String {
        switch self {
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
        }
    }
}
