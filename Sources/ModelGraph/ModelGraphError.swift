/// Failures while building or checking a graph. Each names the file, tensor or node.
public enum ModelGraphError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A required file of a model folder is missing.
    case missingFile(path: String)
    /// A configuration file lacks a field or has a wrong value.
    case invalidConfig(path: String, field: String, reason: String)
    /// The configuration names a model type no front end supports.
    case unsupportedModelType(path: String, modelType: String, supported: [String])
    /// A weight the architecture needs is not in the checkpoint.
    case missingWeight(path: String, tensor: String)
    /// A weight has a different shape than the configuration implies.
    case shapeMismatch(path: String, tensor: String, expected: [Int], actual: [Int])
    /// The checkpoint has more layers (or other weights) than the configuration describes.
    case unexpectedWeight(path: String, tensor: String, reason: String)
    /// A weight holds NaN or infinity.
    case nonFiniteWeight(path: String, tensor: String)
    /// The graph is malformed (a value used before it is produced, a duplicate name, ...).
    case invalidGraph(node: String, reason: String)
    /// A model file uses a layer type, or a layer option, that the front end does not
    /// support (e.g. a Keras `LSTM`, or `data_format: channels_first`).
    case unsupportedLayer(path: String, layer: String, reason: String)
    /// The architecture name is not one of the built-in architectures.
    case unknownArchitecture(name: String, supported: [String])

    public var description: String {
        switch self {
        case let .missingFile(path):
            return "\(path): required file is missing"
        case let .invalidConfig(path, field, reason):
            return "\(path): field '\(field)': \(reason)"
        case let .unsupportedModelType(path, modelType, supported):
            return "\(path): model_type '\(modelType)' is not supported (supported: \(supported.joined(separator: ", ")))"
        case let .missingWeight(path, tensor):
            return "\(path): weight '\(tensor)' is missing"
        case let .shapeMismatch(path, tensor, expected, actual):
            return "\(path): weight '\(tensor)' has shape \(actual), the config implies \(expected)"
        case let .unexpectedWeight(path, tensor, reason):
            return "\(path): weight '\(tensor)': \(reason)"
        case let .nonFiniteWeight(path, tensor):
            return "\(path): weight '\(tensor)' contains NaN or infinity"
        case let .invalidGraph(node, reason):
            return "graph node '\(node)': \(reason)"
        case let .unsupportedLayer(path, layer, reason):
            return "\(path): layer '\(layer)': \(reason)"
        case let .unknownArchitecture(name, supported):
            return "unknown architecture '\(name)' (supported: \(supported.joined(separator: ", ")))"
        }
    }
}
