/// How a clipping range is chosen from observed values.
///
/// - `minMax`: the observed minimum and maximum.
/// - `percentile(P)`: the `(100 − P)`-th and `P`-th percentiles (linear interpolation between
///   order statistics, as `numpy.percentile`'s default; within a bin for histograms).
///   `P` lies in `50...100`; `percentile(100)` is `minMax`.
/// - `sqnr`: the range minimising *quantization noise + γ · clipping noise* (AIMET's
///   "tf_enhanced" idea, our own implementation): every value inside the range contributes the
///   expected rounding noise `scale²/12`, every clipped value `γ·(x − clamp(x))²` with
///   `γ = clippingNoiseWeight = 3`, which penalises clipping more than rounding.
/// - `mse`: the range minimising the actual squared error `Σ (x − fakeQuantize(x))²`.
///
/// Both searches scan candidate ranges that shrink the min-max range in steps of `1/100`
/// (symmetric: `c = max|x|·k/100`, k = 1...100) or, for asymmetric schemes, alternately shrink
/// the upper and the lower end in steps of `1/50` (two rounds of coordinate descent). The
/// min-max range is always a candidate, so the chosen range never scores worse than min-max.
public enum RangeEstimator: Equatable, Hashable, Sendable, Codable, CustomStringConvertible {
    case minMax
    case percentile(Double)
    case sqnr
    case mse

    /// Weight of clipping noise against rounding noise in the `sqnr` objective.
    public static let clippingNoiseWeight = 3.0
    /// Candidates of the symmetric search.
    public static let symmetricCandidateCount = 100
    /// Candidates per end and round of the asymmetric search.
    public static let asymmetricCandidateCount = 50
    /// Rounds of the asymmetric coordinate descent.
    public static let asymmetricRounds = 2

    /// The values `init(parsing:)` accepts.
    public static let allowedSpellings = "minmax, percentile:P (50 <= P <= 100), sqnr, mse"

    /// Parses `minmax`, `percentile:P`, `sqnr` or `mse`.
    public init(parsing text: String) throws {
        switch text {
        case "minmax": self = .minMax
        case "sqnr": self = .sqnr
        case "mse": self = .mse
        default:
            let prefix = "percentile:"
            guard text.hasPrefix(prefix), let value = Double(text.dropFirst(prefix.count)), (50...100).contains(value) else {
                throw QuantizationError.invalidOption(option: "range estimator", value: text, allowed: RangeEstimator.allowedSpellings)
            }
            self = .percentile(value)
        }
    }

    public var description: String {
        switch self {
        case .minMax: return "minmax"
        case .percentile(let value): return "percentile:\(value)"
        case .sqnr: return "sqnr"
        case .mse: return "mse"
        }
    }

    /// Encodes a whole tensor at once (weights), estimating every group's range from its exact
    /// values. Cost: `minMax` and `percentile` are O(n log n) at most; `sqnr` and `mse` evaluate
    /// about 100–200 candidate grids over each group's values.
    /// - Throws: `nonFiniteValue` naming `tensorName`, layout errors, `invalidPercentile`.
    public func encoding(of tensor: Tensor, scheme: QuantScheme, tensorName: String) throws -> Encoding {
        try validate()
        let layout = try GroupLayout(shape: tensor.shape, granularity: scheme.granularity)
        if let index = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
            throw QuantizationError.nonFiniteValue(tensor: tensorName, index: index, value: tensor.scalars[index])
        }
        let groups = layout.groupCount
        let groupSize = groups == 0 ? 0 : tensor.count / groups
        // Gather each group's values contiguously (group g occupies [g·groupSize, (g+1)·groupSize)).
        var grouped = [Float](repeating: 0, count: tensor.count)
        var cursors = (0..<groups).map { $0 * groupSize }
        tensor.scalars.withUnsafeBufferPointer { input in
            grouped.withUnsafeMutableBufferPointer { output in
                layout.forEachSegment { start, length, groupBase, groupStride in
                    for index in 0..<length {
                        let group = groupBase + index * groupStride
                        output[cursors[group]] = input[start + index]
                        cursors[group] += 1
                    }
                }
            }
        }
        var minimums = [Float](repeating: 0, count: groups)
        var maximums = [Float](repeating: 0, count: groups)
        try grouped.withUnsafeMutableBufferPointer { all in
            for group in 0..<groups {
                let values = UnsafeMutableBufferPointer(rebasing: all[group * groupSize..<(group + 1) * groupSize])
                (minimums[group], maximums[group]) = try range(ofExactValues: values, scheme: scheme)
            }
        }
        return try Encoding(minimums: minimums, maximums: maximums, scheme: scheme, scaleShape: layout.scaleShape, tensorName: tensorName)
    }

    func validate() throws {
        if case .percentile(let value) = self, !(50...100).contains(value) { throw QuantizationError.invalidPercentile(value) }
    }

    /// The clipping range of one group of exact values (reordered in place for percentiles).
    func range(ofExactValues values: UnsafeMutableBufferPointer<Float>, scheme: QuantScheme) throws -> (Float, Float) {
        guard !values.isEmpty else { return (0, 0) }
        var minimum = values[0]
        var maximum = values[0]
        for value in values {
            minimum = Swift.min(minimum, value)
            maximum = Swift.max(maximum, value)
        }
        switch self {
        case .minMax:
            return (minimum, maximum)
        case .percentile(let percentile):
            var sorted = values
            sorted.sort()
            return (RangeEstimator.interpolatedPercentile(100 - percentile, sorted: sorted),
                    RangeEstimator.interpolatedPercentile(percentile, sorted: sorted))
        case .sqnr, .mse:
            return searchRange(sample: WeightedSample(values: UnsafeBufferPointer(values), weights: nil),
                               minimum: minimum, maximum: maximum, scheme: scheme)
        }
    }

    /// `numpy.percentile` with linear interpolation of sorted values.
    static func interpolatedPercentile(_ percentile: Double, sorted: UnsafeMutableBufferPointer<Float>) -> Float {
        let position = percentile / 100 * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = Swift.min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        if fraction == 0 { return sorted[lower] }
        return Float(Double(sorted[lower]) + fraction * (Double(sorted[upper]) - Double(sorted[lower])))
    }

    /// Searches the clipping range of the `sqnr` and `mse` objectives (see the type's notes).
    func searchRange(sample: WeightedSample, minimum: Float, maximum: Float, scheme: QuantScheme) -> (Float, Float) {
        let low = Swift.min(minimum, 0)
        let high = Swift.max(maximum, 0)
        switch scheme.symmetry {
        case .symmetric:
            let magnitude = Swift.max(-low, high)
            guard magnitude > 0 else { return (0, 0) }
            let count = RangeEstimator.symmetricCandidateCount
            var best = magnitude
            var bestCost = cost(low: -magnitude, high: magnitude, sample: sample, scheme: scheme)
            for step in 1..<count {
                let clip = Float(Double(magnitude) * Double(step) / Double(count))
                let candidate = cost(low: -clip, high: clip, sample: sample, scheme: scheme)
                if candidate < bestCost { (best, bestCost) = (clip, candidate) }
            }
            return (-best, best)
        case .asymmetric:
            guard high > low else { return (0, 0) }
            let count = RangeEstimator.asymmetricCandidateCount
            var (bestLow, bestHigh) = (low, high)
            var bestCost = cost(low: low, high: high, sample: sample, scheme: scheme)
            for _ in 0..<RangeEstimator.asymmetricRounds {
                for step in 1..<count where high > 0 {
                    let candidateHigh = Float(Double(high) * Double(step) / Double(count))
                    let candidate = cost(low: bestLow, high: candidateHigh, sample: sample, scheme: scheme)
                    if candidate < bestCost { (bestHigh, bestCost) = (candidateHigh, candidate) }
                }
                for step in 1..<count where low < 0 {
                    let candidateLow = Float(Double(low) * Double(step) / Double(count))
                    let candidate = cost(low: candidateLow, high: bestHigh, sample: sample, scheme: scheme)
                    if candidate < bestCost { (bestLow, bestCost) = (candidateLow, candidate) }
                }
            }
            return (bestLow, bestHigh)
        }
    }

    /// The objective of a candidate range, evaluated on the grid that range produces.
    func cost(low: Float, high: Float, sample: WeightedSample, scheme: QuantScheme) -> Double {
        let grid = Encoding.grid(minimum: low, maximum: high, scheme: scheme)
        let range = scheme.quantizedRange
        let gridLow = Float(range.lowerBound - grid.zeroPoint)
        let gridHigh = Float(range.upperBound - grid.zeroPoint)
        let scale = grid.scale
        var total = 0.0
        switch self {
        case .mse:
            for index in 0..<sample.values.count {
                let value = sample.values[index]
                let error = Double(value - Quantizer.gridOffset(value, scale: scale, low: gridLow, high: gridHigh) * scale)
                total += sample.weight(index) * error * error
            }
        default:
            let representedLow = gridLow * scale
            let representedHigh = gridHigh * scale
            let roundingNoise = Double(scale) * Double(scale) / 12
            let gamma = RangeEstimator.clippingNoiseWeight
            for index in 0..<sample.values.count {
                let value = sample.values[index]
                let noise: Double
                if value < representedLow {
                    let clipped = Double(value) - Double(representedLow)
                    noise = gamma * clipped * clipped
                } else if value > representedHigh {
                    let clipped = Double(value) - Double(representedHigh)
                    noise = gamma * clipped * clipped
                } else {
                    noise = roundingNoise
                }
                total += sample.weight(index) * noise
            }
        }
        return total
    }
}

/// Values with optional weights: exact values (weight 1) or histogram bin centres (bin counts).
struct WeightedSample {
    let values: UnsafeBufferPointer<Float>
    let weights: UnsafeBufferPointer<Double>?

    @inline(__always)
    func weight(_ index: Int) -> Double { weights?[index] ?? 1 }
}

extension RangeEstimator {
    private enum CodingKeys: String, CodingKey {
        case kind
        case percentile
    }

    private enum Kind: String, Codable {
        case minMax = "minmax"
        case percentile
        case sqnr
        case mse
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(Kind.self, forKey: .kind) {
        case .minMax: self = .minMax
        case .sqnr: self = .sqnr
        case .mse: self = .mse
        case .percentile:
            let value = try container.decode(Double.self, forKey: .percentile)
            guard (50...100).contains(value) else {
                throw DecodingError.dataCorruptedError(forKey: .percentile, in: container,
                                                       debugDescription: QuantizationError.invalidPercentile(value).description)
            }
            self = .percentile(value)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .minMax: try container.encode(Kind.minMax, forKey: .kind)
        case .sqnr: try container.encode(Kind.sqnr, forKey: .kind)
        case .mse: try container.encode(Kind.mse, forKey: .kind)
        case .percentile(let value):
            try container.encode(Kind.percentile, forKey: .kind)
            try container.encode(value, forKey: .percentile)
        }
    }
}
