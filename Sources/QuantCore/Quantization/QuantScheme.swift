/// Whether a grid is centred on zero (signed, zero point 0) or shifted (unsigned, free zero point).
public enum Symmetry: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case symmetric
    case asymmetric

    /// Parses `symmetric` or `asymmetric`.
    public init(parsing text: String) throws {
        guard let value = Symmetry(rawValue: text) else {
            throw QuantizationError.invalidOption(option: "symmetry", value: text, allowed: "symmetric, asymmetric")
        }
        self = value
    }

    public var description: String { rawValue }
}

/// Which elements of a tensor share one scale and zero point.
public enum Granularity: Equatable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// One encoding for the whole tensor.
    case perTensor
    /// One encoding per index along `axis` (the output axis: 0 for a `[out, in]` weight).
    case perChannel(axis: Int)
    /// One encoding per block of `size` consecutive indices along `axis` (the input axis: 1
    /// for a `[out, in]` weight) and per index of every other axis: `[out, in / size]` scales.
    case perBlock(axis: Int, size: Int)

    /// The values `init(parsing:)` accepts.
    public static let allowedSpellings = "per-tensor, per-channel, per-block:N (N > 0)"

    /// Parses the command-line spellings `per-tensor`, `per-channel` (axis 0) and
    /// `per-block:N` (axis 1, blocks of N).
    public init(parsing text: String) throws {
        let invalid = QuantizationError.invalidOption(option: "granularity", value: text, allowed: Granularity.allowedSpellings)
        switch text {
        case "per-tensor": self = .perTensor
        case "per-channel": self = .perChannel(axis: 0)
        default:
            let prefix = "per-block:"
            guard text.hasPrefix(prefix), let size = Int(text.dropFirst(prefix.count)), size > 0 else { throw invalid }
            self = .perBlock(axis: 1, size: size)
        }
    }

    /// The command-line spelling for the default axes; other axes are spelled out.
    public var description: String {
        switch self {
        case .perTensor: return "per-tensor"
        case .perChannel(let axis): return axis == 0 ? "per-channel" : "per-channel(axis: \(axis))"
        case .perBlock(let axis, let size): return axis == 1 ? "per-block:\(size)" : "per-block:\(size)(axis: \(axis))"
        }
    }

    private enum CodingKeys: String, CodingKey {
        case kind
        case axis
        case blockSize = "block_size"
    }

    private enum Kind: String, Codable {
        case perTensor = "per_tensor"
        case perChannel = "per_channel"
        case perBlock = "per_block"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(Kind.self, forKey: .kind) {
        case .perTensor: self = .perTensor
        case .perChannel: self = .perChannel(axis: try container.decode(Int.self, forKey: .axis))
        case .perBlock:
            self = .perBlock(axis: try container.decode(Int.self, forKey: .axis),
                             size: try container.decode(Int.self, forKey: .blockSize))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .perTensor:
            try container.encode(Kind.perTensor, forKey: .kind)
        case .perChannel(let axis):
            try container.encode(Kind.perChannel, forKey: .kind)
            try container.encode(axis, forKey: .axis)
        case .perBlock(let axis, let size):
            try container.encode(Kind.perBlock, forKey: .kind)
            try container.encode(axis, forKey: .axis)
            try container.encode(size, forKey: .blockSize)
        }
    }
}

/// How a tensor is quantized: bit width, symmetry and granularity.
///
/// The integer grid (`quantizedRange`) is
/// - symmetric: the signed *restricted* range `[−(2^(b−1)−1), 2^(b−1)−1]` (int8: −127...127,
///   so −128 never appears, as the int8 kernels require), zero point always 0;
/// - asymmetric: the unsigned range `[0, 2^b−1]` with a zero point inside it.
public struct QuantScheme: Equatable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// Bits per quantized value, `2...16`.
    public let bits: Int
    public let symmetry: Symmetry
    public let granularity: Granularity

    /// The allowed bit widths.
    public static let allowedBits = 2...16

    /// Creates a scheme; throws `invalidBitWidth` outside `2...16`.
    public init(bits: Int, symmetry: Symmetry, granularity: Granularity) throws {
        guard QuantScheme.allowedBits.contains(bits) else { throw QuantizationError.invalidBitWidth(bits) }
        self.bits = bits
        self.symmetry = symmetry
        self.granularity = granularity
    }

    /// The integer grid `[qmin, qmax]`.
    public var quantizedRange: ClosedRange<Int32> {
        switch symmetry {
        case .symmetric:
            let limit = Int32((1 << (bits - 1)) - 1)
            return -limit...limit
        case .asymmetric:
            return 0...Int32((1 << bits) - 1)
        }
    }

    /// Parses a bit width spelled `int4`, `int8`, `int16` (or `uint…`, or a bare number).
    public static func bitWidth(parsing text: String) throws -> Int {
        var digits = Substring(text)
        if digits.hasPrefix("uint") { digits = digits.dropFirst(4) } else if digits.hasPrefix("int") { digits = digits.dropFirst(3) }
        guard let bits = Int(digits), allowedBits.contains(bits) else {
            throw QuantizationError.invalidOption(option: "bit width", value: text, allowed: "int2 through int16 (e.g. int4, int8, int16)")
        }
        return bits
    }

    public var description: String { "int\(bits) \(symmetry) \(granularity)" }

    private enum CodingKeys: String, CodingKey {
        case bits
        case symmetry
        case granularity
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let bits = try container.decode(Int.self, forKey: .bits)
        guard QuantScheme.allowedBits.contains(bits) else {
            throw DecodingError.dataCorruptedError(forKey: .bits, in: container, debugDescription: QuantizationError.invalidBitWidth(bits).description)
        }
        self.bits = bits
        self.symmetry = try container.decode(Symmetry.self, forKey: .symmetry)
        self.granularity = try container.decode(Granularity.self, forKey: .granularity)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(bits, forKey: .bits)
        try container.encode(symmetry, forKey: .symmetry)
        try container.encode(granularity, forKey: .granularity)
    }
}
