/// The scales and zero points that quantize one tensor, with the layout they apply to.
///
/// Grid convention (design doc): `x̂ = (q − zeroPoint) · scale` with `q` clamped to
/// `scheme.quantizedRange`. Group `g` of a tensor uses `scales[g]` and `zeroPoints[g]`; groups
/// are laid out row-major in `scaleShape` (`[]` per-tensor, `[channels]` per-channel,
/// `[rows, columns / block]` per-block of a `[rows, columns]` weight).
public struct Encoding: Equatable, Sendable, Codable {
    public let scheme: QuantScheme
    /// Shape of the scale and zero-point tensors (the layout of the groups).
    public let scaleShape: [Int]
    /// One positive, finite scale per group.
    public let scales: [Float]
    /// One zero point per group, inside `scheme.quantizedRange`; all 0 when symmetric.
    public let zeroPoints: [Int32]

    /// The scale given to a group whose range is exactly zero (all-zero channel). Any positive
    /// value keeps zeros exact; 1 is chosen because it is visibly a placeholder and never
    /// produces NaN, infinity or subnormals.
    public static let scaleForZeroRange: Float = 1

    /// The smallest scale produced from a non-zero range (`Float.leastNormalMagnitude`), so
    /// scales are never subnormal.
    public static let minimumScale: Float = .leastNormalMagnitude

    /// Creates an encoding from explicit parameters, validating them.
    public init(scheme: QuantScheme, scaleShape: [Int], scales: [Float], zeroPoints: [Int32]) throws {
        let groups = Tensor.elementCount(of: scaleShape)
        guard scales.count == groups else { throw QuantizationError.lengthMismatch(what: "scales", expected: groups, actual: scales.count) }
        guard zeroPoints.count == groups else { throw QuantizationError.lengthMismatch(what: "zero points", expected: groups, actual: zeroPoints.count) }
        if let index = scales.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
            throw QuantizationError.invalidEncoding("scale \(scales[index]) of group \(index) is not positive and finite")
        }
        let range = scheme.quantizedRange
        if let index = zeroPoints.firstIndex(where: { !range.contains($0) }) {
            throw QuantizationError.invalidEncoding("zero point \(zeroPoints[index]) of group \(index) is outside \(range)")
        }
        if scheme.symmetry == .symmetric, let index = zeroPoints.firstIndex(where: { $0 != 0 }) {
            throw QuantizationError.invalidEncoding("symmetric encoding has zero point \(zeroPoints[index]) in group \(index)")
        }
        self.scheme = scheme
        self.scaleShape = scaleShape
        self.scales = scales
        self.zeroPoints = zeroPoints
    }

    /// Creates an encoding from per-group ranges for a tensor of `shape`.
    ///
    /// Every range is first widened to contain 0 so that 0.0 is exactly representable.
    /// Symmetric: `scale = max|x| / qmax`, zero point 0. Asymmetric:
    /// `scale = (max − min) / (qmax − qmin)`, `zeroPoint = round(qmin − min / scale)` clamped into
    /// the grid, which nudges the represented range `[(qmin − zp)·scale, (qmax − zp)·scale]` so
    /// that 0 falls on a grid point. A zero range gets `scaleForZeroRange`.
    /// - Throws: `nonFiniteValue` naming `tensorName` for NaN or infinite bounds; layout errors.
    public init(minimums: [Float], maximums: [Float], scheme: QuantScheme, shape: [Int], tensorName: String) throws {
        let layout = try GroupLayout(shape: shape, granularity: scheme.granularity)
        try self.init(minimums: minimums, maximums: maximums, scheme: scheme, scaleShape: layout.scaleShape, tensorName: tensorName)
    }

    /// Creates an encoding from per-group ranges laid out in `scaleShape` (see the other
    /// initialiser for the rules).
    public init(minimums: [Float], maximums: [Float], scheme: QuantScheme, scaleShape: [Int], tensorName: String) throws {
        let groups = Tensor.elementCount(of: scaleShape)
        guard minimums.count == groups else { throw QuantizationError.lengthMismatch(what: "minimums of '\(tensorName)'", expected: groups, actual: minimums.count) }
        guard maximums.count == groups else { throw QuantizationError.lengthMismatch(what: "maximums of '\(tensorName)'", expected: groups, actual: maximums.count) }
        var scales = [Float]()
        var zeroPoints = [Int32]()
        scales.reserveCapacity(groups)
        zeroPoints.reserveCapacity(groups)
        for group in 0..<groups {
            for value in [minimums[group], maximums[group]] where !value.isFinite {
                throw QuantizationError.nonFiniteValue(tensor: tensorName, index: group, value: value)
            }
            let grid = Encoding.grid(minimum: minimums[group], maximum: maximums[group], scheme: scheme)
            scales.append(grid.scale)
            zeroPoints.append(grid.zeroPoint)
        }
        try self.init(scheme: scheme, scaleShape: scaleShape, scales: scales, zeroPoints: zeroPoints)
    }

    /// The scale and zero point of one finite range (the rules of `init(minimums:...)`).
    static func grid(minimum: Float, maximum: Float, scheme: QuantScheme) -> (scale: Float, zeroPoint: Int32) {
        let low = Double(Swift.min(minimum, maximum, 0))
        let high = Double(Swift.max(minimum, maximum, 0))
        let range = scheme.quantizedRange
        switch scheme.symmetry {
        case .symmetric:
            let magnitude = Swift.max(-low, high)
            if magnitude == 0 { return (scaleForZeroRange, 0) }
            return (Swift.max(Float(magnitude / Double(range.upperBound)), minimumScale), 0)
        case .asymmetric:
            if high - low == 0 { return (scaleForZeroRange, range.lowerBound) }
            let scale = Swift.max(Float((high - low) / Double(range.upperBound - range.lowerBound)), minimumScale)
            let zero = (Double(range.lowerBound) - low / Double(scale)).rounded(.toNearestOrEven)
            let clamped = Swift.min(Swift.max(zero, Double(range.lowerBound)), Double(range.upperBound))
            return (scale, Int32(clamped))
        }
    }

    /// Number of groups.
    public var groupCount: Int { scales.count }

    /// The smallest value group `group` represents: `(qmin − zeroPoint) · scale`.
    public func minimum(ofGroup group: Int) -> Float {
        Float(scheme.quantizedRange.lowerBound - zeroPoints[group]) * scales[group]
    }

    /// The largest value group `group` represents: `(qmax − zeroPoint) · scale`.
    public func maximum(ofGroup group: Int) -> Float {
        Float(scheme.quantizedRange.upperBound - zeroPoints[group]) * scales[group]
    }

    /// The group layout of a tensor of `shape`, checked against `scaleShape`.
    func layout(for shape: [Int], tensorName: String) throws -> GroupLayout {
        let layout = try GroupLayout(shape: shape, granularity: scheme.granularity)
        guard layout.scaleShape == scaleShape else {
            throw QuantizationError.shapeMismatch(tensor: tensorName + " (scale layout)", expected: scaleShape, actual: layout.scaleShape)
        }
        return layout
    }

    private enum CodingKeys: String, CodingKey {
        case scheme
        case scaleShape = "scale_shape"
        case scales
        case zeroPoints = "zero_points"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        do {
            try self.init(scheme: try container.decode(QuantScheme.self, forKey: .scheme),
                          scaleShape: try container.decode([Int].self, forKey: .scaleShape),
                          scales: try container.decode([Float].self, forKey: .scales),
                          zeroPoints: try container.decode([Int32].self, forKey: .zeroPoints))
        } catch let error as QuantizationError {
            throw DecodingError.dataCorruptedError(forKey: .scales, in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(scheme, forKey: .scheme)
        try container.encode(scaleShape, forKey: .scaleShape)
        try container.encode(scales, forKey: .scales)
        try container.encode(zeroPoints, forKey: .zeroPoints)
    }
}
