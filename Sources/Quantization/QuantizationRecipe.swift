import Foundation
import QuantCore

/// How activations are represented in the quantized model.
public enum ActivationPrecision: String, Sendable, Codable, CaseIterable {
    /// Activations stay fp32 (weight-only quantization).
    case float
    /// Activations rounded to an 8-bit grid at every quantizer.
    case int8
    /// Activations rounded to a 16-bit grid (as a 16-bit NPU target would run them).
    case int16

    /// Bits of the grid, nil for float.
    public var bits: Int? {
        switch self {
        case .float: return nil
        case .int8: return 8
        case .int16: return 16
        }
    }
}

/// What to quantize and how: the input of `calibrate`, recorded in every export.
public struct QuantizationRecipe: Sendable, Equatable, Codable {
    /// Weight scheme of linear (and conv) layers.
    public var weights: QuantScheme
    /// How weight ranges are chosen.
    public var weightEstimator: RangeEstimator
    /// Activation representation.
    public var activations: ActivationPrecision
    /// Activation grid symmetry (asymmetric suits post-GELU and post-softmax values).
    public var activationSymmetry: Symmetry
    /// How activation ranges are chosen from calibration statistics.
    public var activationEstimator: RangeEstimator
    /// Scheme of embedding tables (int8 per row by default), nil to keep them float.
    public var embeddings: QuantScheme?
    /// Node-name patterns (`*` wildcard) whose outputs never get an activation quantizer.
    public var keepFloat: [String]
    /// Node-name patterns whose weights stay float.
    public var keepWeightsFloat: [String]
    /// Seed for everything random (sampling, AdaRound initialisation).
    public var seed: UInt64

    public init(weights: QuantScheme, weightEstimator: RangeEstimator = .minMax,
                activations: ActivationPrecision = .float, activationSymmetry: Symmetry = .asymmetric,
                activationEstimator: RangeEstimator = .sqnr, embeddings: QuantScheme? = nil,
                keepFloat: [String] = QuantizationRecipe.defaultKeepFloat, keepWeightsFloat: [String] = [],
                seed: UInt64 = 0) {
        self.weights = weights
        self.weightEstimator = weightEstimator
        self.activations = activations
        self.activationSymmetry = activationSymmetry
        self.activationEstimator = activationEstimator
        self.embeddings = embeddings
        self.keepFloat = keepFloat
        self.keepWeightsFloat = keepWeightsFloat
        self.seed = seed
    }

    /// Outputs left float by default: the sentence vector (pooling and normalisation are the
    /// model's interface to the caller, who consumes floats).
    public static let defaultKeepFloat = ["pooling", "normalize"]

    /// The default embedding scheme: int8, symmetric, one scale per row.
    public static func defaultEmbeddingScheme() -> QuantScheme {
        // Valid by construction: 8 bits, per-channel on axis 0.
        try! QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perChannel(axis: 0))
    }

    enum CodingKeys: String, CodingKey {
        case weights
        case weightEstimator = "weight_estimator"
        case activations
        case activationSymmetry = "activation_symmetry"
        case activationEstimator = "activation_estimator"
        case embeddings
        case keepFloat = "keep_float"
        case keepWeightsFloat = "keep_weights_float"
        case seed
    }
}

/// `*`-wildcard matching of node names (the only special character).
public enum NamePattern {
    /// True when `name` matches `pattern`; `*` matches any run of characters.
    public static func matches(_ name: String, _ pattern: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 1 { return name == pattern }
        guard name.hasPrefix(parts[0]) else { return false }
        var remainder = name.dropFirst(parts[0].count)
        for (index, part) in parts.enumerated().dropFirst() {
            if index == parts.count - 1 { return part.isEmpty || remainder.hasSuffix(part) }
            guard let range = remainder.range(of: part) else { return false }
            remainder = remainder[range.upperBound...]
        }
        return true
    }

    /// True when `name` matches any of `patterns`.
    public static func matchesAny(_ name: String, _ patterns: [String]) -> Bool {
        patterns.contains { matches(name, $0) }
    }
}
