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

/// A post-training technique applied during calibration. The raw values are the command-line
/// spellings (`calibrate --techniques adaround`); the set grows as techniques are added
/// (`bn-fold`, `cle`, `bias-correction`).
public enum QuantizationTechnique: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Batch-norm folding into the neighbouring convolution / linear layer (image classifiers).
    case batchNormFolding = "bn-fold"
    /// Cross-layer equalization with high-bias absorption (Nagel et al. 2019; image
    /// classifiers; folds batch norms first).
    case crossLayerEqualization = "cle"
    /// Empirical bias correction, layer by layer, on the calibration inputs (image classifiers).
    case biasCorrection = "bias-correction"
    /// Adaptive rounding of linear-layer weights (Nagel et al. 2020), layer by layer.
    case adaround = "adaround"
    /// Sequential MSE: weight ranges chosen layer by layer by the layer's output error on
    /// calibration data (AIMET's `apply_seq_mse`); before AdaRound when both are named.
    case sequentialMSE = "seq-mse"

    public var description: String { rawValue }
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
    /// Node-name patterns (`NamePattern`) whose outputs never get an activation quantizer.
    public var keepFloat: [String]
    /// Node-name patterns whose weights stay float.
    public var keepWeightsFloat: [String]
    /// Per-layer overrides by node-name pattern (`NamePattern`), applied in order; the last
    /// matching override wins.
    public var overrides: [LayerOverride]
    /// With 8-bit activations: move to 16 bits every activation quantizer whose error alone
    /// costs more than this in output cosine (1 − cos, averaged over the probes); nil keeps
    /// every quantizer at the recipe's width.
    public var sixteenBitThreshold: Double?
    /// Calibration inputs used as probes by that analysis.
    public var sensitivityProbes: Int
    /// Seed for everything random (sampling, AdaRound initialisation).
    public var seed: UInt64
    /// Techniques applied during calibration, in the order given.
    public var techniques: [QuantizationTechnique]
    /// AdaRound optimisation steps per layer; nil uses AIMET's defaults (10,000 for ≥ 8-bit
    /// weights, 15,000 below).
    public var adaroundIterations: Int?
    /// AdaRound's Adam step size and rounding-regulariser weight λ; nil keeps AIMET's
    /// (1e-3 and 0.01). Recipe-file only (`adaround_learning_rate`, `adaround_regularization`).
    public var adaroundLearningRate: Float?
    public var adaroundRegularization: Float?
    /// Cross-layer equalization replaces ReLU6 by ReLU as AIMET does (`cle_replaces_relu6`),
    /// instead of keeping the clip exact with per-channel ceilings (the default).
    public var equalizationReplacesReLU6 = false

    /// The AdaRound hyper-parameters this recipe asks for (iterations are set per layer).
    public var adaRoundParameters: AdaRoundParameters {
        var parameters = AdaRoundParameters(iterations: 0, seed: seed)
        if let adaroundLearningRate { parameters.learningRate = adaroundLearningRate }
        if let adaroundRegularization { parameters.regularization = adaroundRegularization }
        return parameters
    }

    public init(weights: QuantScheme, weightEstimator: RangeEstimator = .minMax,
                activations: ActivationPrecision = .float, activationSymmetry: Symmetry = .asymmetric,
                activationEstimator: RangeEstimator = .sqnr, embeddings: QuantScheme? = nil,
                keepFloat: [String] = QuantizationRecipe.defaultKeepFloat, keepWeightsFloat: [String] = [],
                overrides: [LayerOverride] = [], sixteenBitThreshold: Double? = QuantizationRecipe.defaultSixteenBitThreshold,
                sensitivityProbes: Int = 16, seed: UInt64 = 0, techniques: [QuantizationTechnique] = [],
                adaroundIterations: Int? = nil) {
        self.weights = weights
        self.weightEstimator = weightEstimator
        self.activations = activations
        self.activationSymmetry = activationSymmetry
        self.activationEstimator = activationEstimator
        self.embeddings = embeddings
        self.keepFloat = keepFloat
        self.keepWeightsFloat = keepWeightsFloat
        self.overrides = overrides
        self.sixteenBitThreshold = sixteenBitThreshold
        self.sensitivityProbes = sensitivityProbes
        self.seed = seed
        self.techniques = techniques
        self.adaroundIterations = adaroundIterations
    }

    /// The default loss above which an 8-bit activation quantizer goes to 16 bits.
    public static let defaultSixteenBitThreshold = 0.0005

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        weights = try container.decode(QuantScheme.self, forKey: .weights)
        weightEstimator = try container.decodeIfPresent(RangeEstimator.self, forKey: .weightEstimator) ?? .minMax
        activations = try container.decodeIfPresent(ActivationPrecision.self, forKey: .activations) ?? .float
        activationSymmetry = try container.decodeIfPresent(Symmetry.self, forKey: .activationSymmetry) ?? .asymmetric
        activationEstimator = try container.decodeIfPresent(RangeEstimator.self, forKey: .activationEstimator) ?? .sqnr
        embeddings = try container.decodeIfPresent(QuantScheme.self, forKey: .embeddings)
        keepFloat = try container.decodeIfPresent([String].self, forKey: .keepFloat) ?? Self.defaultKeepFloat
        keepWeightsFloat = try container.decodeIfPresent([String].self, forKey: .keepWeightsFloat) ?? []
        overrides = try container.decodeIfPresent([LayerOverride].self, forKey: .overrides) ?? []
        sixteenBitThreshold = container.contains(.sixteenBitThreshold)
            ? try container.decodeIfPresent(Double.self, forKey: .sixteenBitThreshold) : Self.defaultSixteenBitThreshold
        sensitivityProbes = try container.decodeIfPresent(Int.self, forKey: .sensitivityProbes) ?? 16
        seed = try container.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
        techniques = try container.decodeIfPresent([QuantizationTechnique].self, forKey: .techniques) ?? []
        adaroundIterations = try container.decodeIfPresent(Int.self, forKey: .adaroundIterations)
        adaroundLearningRate = try container.decodeIfPresent(Float.self, forKey: .adaroundLearningRate)
        adaroundRegularization = try container.decodeIfPresent(Float.self, forKey: .adaroundRegularization)
        equalizationReplacesReLU6 = try container.decodeIfPresent(Bool.self, forKey: .equalizationReplacesReLU6) ?? false
        for (value, key) in [(adaroundLearningRate, CodingKeys.adaroundLearningRate), (adaroundRegularization, .adaroundRegularization)] {
            if let value, !(value.isFinite && value > 0) {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "must be a finite positive number, got \(value)")
            }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(weights, forKey: .weights)
        try container.encode(weightEstimator, forKey: .weightEstimator)
        try container.encode(activations, forKey: .activations)
        try container.encode(activationSymmetry, forKey: .activationSymmetry)
        try container.encode(activationEstimator, forKey: .activationEstimator)
        try container.encodeIfPresent(embeddings, forKey: .embeddings)
        try container.encode(keepFloat, forKey: .keepFloat)
        try container.encode(keepWeightsFloat, forKey: .keepWeightsFloat)
        try container.encode(overrides, forKey: .overrides)
        // Written even when nil: a missing key means "the default threshold".
        try container.encode(sixteenBitThreshold, forKey: .sixteenBitThreshold)
        try container.encode(sensitivityProbes, forKey: .sensitivityProbes)
        try container.encode(seed, forKey: .seed)
        // Omitted when empty / unset, so recipes without techniques stay as they were.
        if !techniques.isEmpty { try container.encode(techniques, forKey: .techniques) }
        try container.encodeIfPresent(adaroundIterations, forKey: .adaroundIterations)
        try container.encodeIfPresent(adaroundLearningRate, forKey: .adaroundLearningRate)
        try container.encodeIfPresent(adaroundRegularization, forKey: .adaroundRegularization)
        if equalizationReplacesReLU6 { try container.encode(true, forKey: .equalizationReplacesReLU6) }
    }

    /// The activation bit width for `node`: the last matching override, else the recipe's.
    public func activationBits(for node: String) -> Int? {
        overrides.last { $0.activationBits != nil && NamePattern.matches(node, $0.pattern) }?.activationBits ?? activations.bits
    }

    /// The weight scheme for `node`: the last matching override's, else the recipe's.
    public func weightScheme(for node: String) -> QuantScheme {
        overrides.last { $0.weights != nil && NamePattern.matches(node, $0.pattern) }?.weights ?? weights
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
        case overrides
        case sixteenBitThreshold = "sixteen_bit_threshold"
        case sensitivityProbes = "sensitivity_probes"
        case seed
        case techniques
        case adaroundIterations = "adaround_iterations"
        case adaroundLearningRate = "adaround_learning_rate"
        case adaroundRegularization = "adaround_regularization"
        case equalizationReplacesReLU6 = "cle_replaces_relu6"
    }
}

/// Wildcard matching of node names: `*` matches any run of characters within one
/// dot-separated part (`encoder.layer.*.output.dense` matches the six FFN output layers but
/// not `….attention.output.dense`), `**` matches across parts.
public enum NamePattern {
    /// True when `name` matches `pattern`.
    public static func matches(_ name: String, _ pattern: String) -> Bool {
        matches(Array(name.utf8)[...], Array(pattern.utf8)[...])
    }

    /// True when `name` matches any of `patterns`.
    public static func matchesAny(_ name: String, _ patterns: [String]) -> Bool {
        patterns.contains { matches(name, $0) }
    }

    private static func matches(_ name: ArraySlice<UInt8>, _ pattern: ArraySlice<UInt8>) -> Bool {
        guard let first = pattern.first else { return name.isEmpty }
        let star = UInt8(ascii: "*"), dot = UInt8(ascii: ".")
        guard first == star else {
            guard let head = name.first, head == first else { return false }
            return matches(name.dropFirst(), pattern.dropFirst())
        }
        let crossesParts = pattern.dropFirst().first == star
        let rest = pattern.dropFirst(crossesParts ? 2 : 1)
        var remainder = name
        while true {
            if matches(remainder, rest) { return true }
            guard let head = remainder.first, crossesParts || head != dot else { return false }
            remainder = remainder.dropFirst()
        }
    }
}

/// A per-layer change to the recipe, for the nodes whose names match `pattern`.
public struct LayerOverride: Sendable, Equatable, Codable {
    /// Node-name pattern (`NamePattern`), e.g. `encoder.layer.*.output.dense`.
    public var pattern: String
    /// Bit width of the activation quantizer on the node's output (8 or 16).
    public var activationBits: Int?
    /// Weight scheme of the node.
    public var weights: QuantScheme?

    public init(pattern: String, activationBits: Int? = nil, weights: QuantScheme? = nil) {
        self.pattern = pattern
        self.activationBits = activationBits
        self.weights = weights
    }

    enum CodingKeys: String, CodingKey {
        case pattern
        case activationBits = "activation_bits"
        case weights
    }
}
