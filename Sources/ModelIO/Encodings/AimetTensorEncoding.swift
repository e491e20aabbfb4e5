/// The layouts of AIMET's encodings file that this module writes.
///
/// Specification: AIMET "Encoding Format Specification"
/// (`Docs/techniques/encoding_spec.rst` in github.com/qualcomm/aimet, sections "Version 1.0.0"
/// and "Version 0.6.1"; older copy `Docs/api_docs/quantization_encoding_specification.rst` in
/// github.com/quic/aimet).
public enum AimetEncodingVersion: String, Sendable, CaseIterable {
    /// Lists of entries that carry their tensor name; per-tensor, per-channel, per-block and
    /// LPBQ entries; `scale` / `offset` are arrays.
    case v1_0_0 = "1.0.0"
    /// The legacy layout: objects from tensor name to a list with one entry per channel,
    /// each with `min` / `max` / `scale` / `offset`. Cannot express per-block or LPBQ.
    case v0_6_1 = "0.6.1"
}

/// Whether a tensor is simulated on an integer grid or as a float of `bitwidth` bits.
public enum AimetDataType: String, Sendable, CaseIterable {
    case int
    case float
}

/// How many scales an encoding has and how they map onto the tensor.
///
/// AIMET's files do not record axes: its specification defines the channel axis as the output
/// channel dimension and the block axis as the input channel dimension. The writer therefore
/// does not serialise `axis` values, and the reader reports channel axis 0 and block axis 1
/// (the output and input dimension of a `[out, in]` weight).
public enum AimetEncodingGranularity: Sendable, Equatable {
    /// One scale for the whole tensor.
    case perTensor
    /// One scale per slice along `axis`.
    case perChannel(axis: Int)
    /// One scale per channel and per block of `blockSize` consecutive elements along `blockAxis`;
    /// scales are flattened channel-major: `[channel * blocksPerChannel + block]`.
    case perBlock(channelAxis: Int, blockAxis: Int, blockSize: Int)
    /// Low-power blockwise quantization (AIMET "LPBQ"): `scales` holds one float scale per
    /// channel, and each block's scale is `integerScales[channel * blocksPerChannel + block] ×
    /// scales[channel]`, with integer scales in `1 ... 2^scaleBitwidth`.
    case lowPowerBlock(channelAxis: Int, blockAxis: Int, blockSize: Int, scaleBitwidth: Int, integerScales: [UInt16])
}

/// One tensor's quantization encoding, in this project's grid convention:
///
///     x̂ = (q − zeroPoint) · scale
///     symmetric:  zeroPoint = 0, q ∈ [−(2^(b−1) − 1), 2^(b−1) − 1]   (signed, no −2^(b−1))
///     asymmetric: q ∈ [0, 2^b − 1], zeroPoint ∈ [0, 2^b − 1]
///
/// `zeroPoints` are zero points in that convention, NOT AIMET offsets; the conversion to AIMET's
/// `offset` happens only when the document is written (see `AimetGrid`).
public struct AimetTensorEncoding: Sendable, Equatable {
    /// The tensor's name in the exported graph (e.g. `encoder.layer.0.attention.self.query.weight`).
    public var name: String
    /// Integer grid or float simulation.
    public var dataType: AimetDataType
    /// Bits of the quantized values (for LPBQ: of the stored low-bit values, AIMET's
    /// `compressed_bw`). For float entries: 16 or 32.
    public var bitwidth: Int
    /// Symmetric grid (zero point 0 on the signed range) or asymmetric (unsigned range).
    public var isSymmetric: Bool
    /// How the scales map onto the tensor.
    public var granularity: AimetEncodingGranularity
    /// Positive, finite scales (empty for float entries). For LPBQ: one per channel.
    public var scales: [Float]
    /// Zero points in this project's convention, one per scale (all 0 when symmetric).
    public var zeroPoints: [Int32]

    /// An integer encoding. `zeroPoints` defaults to all zeros (the symmetric case).
    public init(
        name: String, bitwidth: Int, isSymmetric: Bool, granularity: AimetEncodingGranularity,
        scales: [Float], zeroPoints: [Int32]? = nil
    ) {
        self.name = name
        self.dataType = .int
        self.bitwidth = bitwidth
        self.isSymmetric = isSymmetric
        self.granularity = granularity
        self.scales = scales
        self.zeroPoints = zeroPoints ?? Array(repeating: 0, count: scales.count)
    }

    /// A float entry: the tensor stays floating point with `bitwidth` bits (16 or 32).
    public static func float(name: String, bitwidth: Int) -> AimetTensorEncoding {
        var encoding = AimetTensorEncoding(name: name, bitwidth: bitwidth, isSymmetric: false, granularity: .perTensor, scales: [])
        encoding.dataType = .float
        return encoding
    }

    /// The channel axis for per-channel, per-block and LPBQ encodings.
    public var channelAxis: Int? {
        switch granularity {
        case .perTensor: return nil
        case let .perChannel(axis): return axis
        case let .perBlock(channelAxis, _, _), let .lowPowerBlock(channelAxis, _, _, _, _): return channelAxis
        }
    }

    /// The block axis for per-block and LPBQ encodings.
    public var blockAxis: Int? {
        switch granularity {
        case .perTensor, .perChannel: return nil
        case let .perBlock(_, blockAxis, _), let .lowPowerBlock(_, blockAxis, _, _, _): return blockAxis
        }
    }

    /// The block size for per-block and LPBQ encodings.
    public var blockSize: Int? {
        switch granularity {
        case .perTensor, .perChannel: return nil
        case let .perBlock(_, _, blockSize), let .lowPowerBlock(_, _, blockSize, _, _): return blockSize
        }
    }

    /// The scale of every block (channel-major) for LPBQ, the scales themselves otherwise.
    public var effectiveScales: [Float] {
        guard case let .lowPowerBlock(_, _, _, _, integerScales) = granularity, !scales.isEmpty else { return scales }
        let blocksPerChannel = integerScales.count / scales.count
        return integerScales.enumerated().map { index, integerScale in
            Float(integerScale) * scales[index / blocksPerChannel]
        }
    }

    /// Checks every invariant of the type; throws `ModelIOError.invalidTensor` naming the tensor.
    public func validate() throws {
        func fail(_ reason: String) -> ModelIOError { .invalidTensor(tensor: name, reason: reason) }
        guard !name.isEmpty else { throw ModelIOError.invalidTensor(tensor: "", reason: "encoding has an empty tensor name") }
        if dataType == .float {
            guard bitwidth == 16 || bitwidth == 32 else { throw fail("float encodings are 16 or 32 bits, not \(bitwidth)") }
            guard scales.isEmpty, zeroPoints.isEmpty, granularity == .perTensor else {
                throw fail("a float encoding has no scales, zero points or granularity")
            }
            return
        }
        guard (2...32).contains(bitwidth) else { throw fail("integer bitwidth must be in 2...32, not \(bitwidth)") }
        guard !scales.isEmpty else { throw fail("an integer encoding needs at least one scale") }
        if let index = scales.firstIndex(where: { !$0.isFinite || $0 <= 0 }) {
            throw fail("scale \(index) is \(scales[index]); scales must be finite and > 0")
        }
        guard zeroPoints.count == scales.count else {
            throw fail("\(scales.count) scales but \(zeroPoints.count) zero points")
        }
        let largestLevel = (Int64(1) << Int64(bitwidth)) - 1
        for (index, zeroPoint) in zeroPoints.enumerated() {
            if isSymmetric, zeroPoint != 0 {
                throw fail("symmetric encodings have zero point 0; zero point \(index) is \(zeroPoint)")
            }
            if !isSymmetric, !(0...largestLevel).contains(Int64(zeroPoint)) {
                throw fail("zero point \(index) is \(zeroPoint), outside the unsigned grid 0...\(largestLevel)")
            }
        }
        try validateGranularity(fail: fail)
    }

    private func validateGranularity(fail: (String) -> ModelIOError) throws {
        switch granularity {
        case .perTensor:
            guard scales.count == 1 else { throw fail("per-tensor encodings have one scale, not \(scales.count)") }
        case let .perChannel(axis):
            guard axis >= 0 else { throw fail("channel axis \(axis) is negative") }
        case let .perBlock(channelAxis, blockAxis, blockSize):
            try validateBlockAxes(channelAxis: channelAxis, blockAxis: blockAxis, blockSize: blockSize, fail: fail)
        case let .lowPowerBlock(channelAxis, blockAxis, blockSize, scaleBitwidth, integerScales):
            try validateBlockAxes(channelAxis: channelAxis, blockAxis: blockAxis, blockSize: blockSize, fail: fail)
            guard isSymmetric else { throw fail("LPBQ encodings are symmetric") }
            guard scaleBitwidth >= 1, bitwidth + scaleBitwidth <= 32 else {
                throw fail("LPBQ scale bitwidth \(scaleBitwidth) with value bitwidth \(bitwidth) must give 2...32 bits")
            }
            guard !integerScales.isEmpty, integerScales.count % scales.count == 0 else {
                throw fail("\(integerScales.count) LPBQ block scales do not divide into \(scales.count) channels")
            }
            let largest = Int(1) << scaleBitwidth
            if let index = integerScales.firstIndex(where: { $0 == 0 || Int($0) > largest }) {
                throw fail("LPBQ block scale \(index) is \(integerScales[index]); must be in 1...\(largest)")
            }
        }
    }

    private func validateBlockAxes(channelAxis: Int, blockAxis: Int, blockSize: Int, fail: (String) -> ModelIOError) throws {
        guard channelAxis >= 0, blockAxis >= 0, channelAxis != blockAxis else {
            throw fail("channel axis \(channelAxis) and block axis \(blockAxis) must be distinct and non-negative")
        }
        guard blockSize >= 1 else { throw fail("block size must be ≥ 1, not \(blockSize)") }
    }
}

/// The settings AIMET records under `quantizer_args`: how the encodings were computed.
public struct AimetQuantizerArguments: Sendable, Equatable {
    /// Default bitwidth of activation encodings.
    public var activationBitwidth: Int
    /// Default bitwidth of parameter encodings.
    public var parameterBitwidth: Int
    /// Whether computation was integer or float.
    public var dataType: AimetDataType
    /// Whether parameter encodings were computed symmetrically.
    public var isSymmetric: Bool
    /// Whether parameter encodings are per channel.
    public var perChannelQuantization: Bool
    /// The range-setting scheme, e.g. `post_training_tf` or `post_training_tf_enhanced`.
    public var quantScheme: String

    public init(
        activationBitwidth: Int, parameterBitwidth: Int, dataType: AimetDataType = .int,
        isSymmetric: Bool, perChannelQuantization: Bool, quantScheme: String
    ) {
        self.activationBitwidth = activationBitwidth
        self.parameterBitwidth = parameterBitwidth
        self.dataType = dataType
        self.isSymmetric = isSymmetric
        self.perChannelQuantization = perChannelQuantization
        self.quantScheme = quantScheme
    }
}

/// A whole AIMET encodings file: activation and parameter encodings plus metadata.
public struct AimetEncodingsDocument: Sendable, Equatable {
    /// Encodings of activation tensors (op inputs / outputs), in the order they are written.
    public var activationEncodings: [AimetTensorEncoding]
    /// Encodings of parameter tensors (weights, biases, embedding tables).
    public var parameterEncodings: [AimetTensorEncoding]
    /// How the encodings were computed (`quantizer_args`), when known.
    public var quantizerArguments: AimetQuantizerArguments?
    /// Layers left unquantized (`excluded_layers`).
    public var excludedLayers: [String]

    public init(
        activationEncodings: [AimetTensorEncoding] = [], parameterEncodings: [AimetTensorEncoding] = [],
        quantizerArguments: AimetQuantizerArguments? = nil, excludedLayers: [String] = []
    ) {
        self.activationEncodings = activationEncodings
        self.parameterEncodings = parameterEncodings
        self.quantizerArguments = quantizerArguments
        self.excludedLayers = excludedLayers
    }

    /// Validates every entry and rejects a tensor name used twice within one section.
    public func validate() throws {
        for section in [activationEncodings, parameterEncodings] {
            var seen = Set<String>()
            for encoding in section {
                try encoding.validate()
                guard seen.insert(encoding.name).inserted else {
                    throw ModelIOError.invalidTensor(tensor: encoding.name, reason: "has two encodings in one section")
                }
            }
        }
    }
}
