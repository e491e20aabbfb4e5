/// Collects the value distribution of a tensor over many batches (activations during
/// calibration) and turns it into an `Encoding`.
///
/// Each group (the whole tensor, or each channel along an axis) keeps its exact minimum, maximum
/// and a `RangeHistogram` of `binCount` bins whose width is a power of two on a fixed global grid.
/// When a batch widens the range the histogram re-bins by merging pairs of bins, which is exact,
/// so the state after any sequence of batches equals the state after one batch holding all of
/// them (and `merge` of two observers equals observing both inputs). Memory is
/// `binCount × 8` bytes per group, independent of the number of values observed.
public struct RangeObserver: Sendable, Equatable {
    /// Name of the observed tensor, used in errors.
    public let tensorName: String
    /// `.perTensor` or `.perChannel(axis:)`.
    public let granularity: Granularity
    /// Bins per group.
    public let binCount: Int
    private var histograms: [RangeHistogram]

    /// The default number of bins per group.
    public static let defaultBinCount = 2048

    /// Creates an empty observer.
    /// - Throws: `observerMismatch` for per-block granularity (encode weights whole instead, with
    ///   `RangeEstimator.encoding(of:scheme:tensorName:)`), `invalidOption` for fewer than 2 bins.
    public init(tensorName: String, granularity: Granularity = .perTensor, binCount: Int = RangeObserver.defaultBinCount) throws {
        if case .perBlock = granularity {
            throw QuantizationError.observerMismatch(tensor: tensorName, reason: "streaming observers support per-tensor and per-channel granularity only")
        }
        if case .perChannel(let axis) = granularity, axis < 0 {
            throw QuantizationError.invalidAxis(axis: axis, rank: 0)
        }
        guard binCount >= 2 else {
            throw QuantizationError.invalidOption(option: "bin count", value: String(binCount), allowed: "2 or more")
        }
        self.tensorName = tensorName
        self.granularity = granularity
        self.binCount = binCount
        histograms = granularity == .perTensor ? [RangeHistogram(binCount: binCount)] : []
    }

    /// Number of values observed (over all groups).
    public var observedCount: UInt64 { histograms.reduce(0) { $0 + $1.count } }
    /// Exact minimum of each group (`+∞` before any value).
    public var minimums: [Float] { histograms.map(\.minimum) }
    /// Exact maximum of each group (`−∞` before any value).
    public var maximums: [Float] { histograms.map(\.maximum) }

    /// Observes a flat batch; only for per-tensor observers.
    public mutating func observe(_ values: UnsafeBufferPointer<Float>) throws {
        guard granularity == .perTensor else {
            throw QuantizationError.observerMismatch(tensor: tensorName, reason: "a per-channel observer needs the batch's shape")
        }
        try observe(values, shape: [values.count])
    }

    /// Observes a tensor.
    public mutating func observe(_ tensor: Tensor) throws {
        try tensor.scalars.withUnsafeBufferPointer { try observe($0, shape: tensor.shape) }
    }

    /// Observes a row-major batch of `shape`. Nothing is recorded when the batch is rejected.
    /// - Throws: `nonFiniteValue` (index within the batch), `lengthMismatch`, layout errors, or
    ///   `shapeMismatch` when the channel count differs from earlier batches.
    public mutating func observe(_ values: UnsafeBufferPointer<Float>, shape: [Int]) throws {
        guard values.count == Tensor.elementCount(of: shape) else {
            throw QuantizationError.lengthMismatch(what: "batch of '\(tensorName)' with shape \(shape)", expected: Tensor.elementCount(of: shape), actual: values.count)
        }
        let layout = try GroupLayout(shape: shape, granularity: granularity)
        if histograms.isEmpty {
            histograms = [RangeHistogram](repeating: RangeHistogram(binCount: binCount), count: layout.groupCount)
        } else if histograms.count != layout.groupCount {
            throw QuantizationError.shapeMismatch(tensor: tensorName + " (channels)", expected: [histograms.count], actual: layout.scaleShape)
        }
        guard let base = values.baseAddress else { return }
        if layout.inner == 1 && layout.extent > 1 {
            try observeChannelsLast(base, rows: layout.outer, channels: layout.extent)
            return
        }
        // Pass 1: validate and find each group's batch range (no state changes before this succeeds).
        var lows = [Float](repeating: .infinity, count: layout.groupCount)
        var highs = [Float](repeating: -.infinity, count: layout.groupCount)
        let name = tensorName
        try layout.forEachSegment { start, length, group, _ in
            var low = lows[group]
            var high = highs[group]
            for index in start..<(start + length) {
                let value = base[index]
                guard value.isFinite else { throw QuantizationError.nonFiniteValue(tensor: name, index: index, value: value) }
                low = Swift.min(low, value)
                high = Swift.max(high, value)
            }
            lows[group] = low
            highs[group] = high
        }
        // Pass 2: widen the windows, then count.
        for group in 0..<layout.groupCount where lows[group] <= highs[group] {
            histograms[group].include(low: lows[group], high: highs[group])
        }
        layout.forEachSegment { start, length, group, _ in
            histograms[group].add(UnsafeBufferPointer(start: base + start, count: length))
        }
    }

    /// Rows of `channels` values with the channel axis last (activations `[tokens, hidden]`
    /// observed per channel): the same two passes, walking row tiles so the strided reads of one
    /// channel stay in cache.
    private mutating func observeChannelsLast(_ base: UnsafePointer<Float>, rows: Int, channels: Int) throws {
        var lows = [Float](repeating: .infinity, count: channels)
        var highs = [Float](repeating: -.infinity, count: channels)
        try lows.withUnsafeMutableBufferPointer { lows in
            try highs.withUnsafeMutableBufferPointer { highs in
                for row in 0..<rows {
                    let values = base + row * channels
                    for channel in 0..<channels {
                        let value = values[channel]
                        guard value.isFinite else {
                            throw QuantizationError.nonFiniteValue(tensor: tensorName, index: row * channels + channel, value: value)
                        }
                        lows[channel] = Swift.min(lows[channel], value)
                        highs[channel] = Swift.max(highs[channel], value)
                    }
                }
            }
        }
        for channel in 0..<channels where lows[channel] <= highs[channel] {
            histograms[channel].include(low: lows[channel], high: highs[channel])
        }
        let tileRows = 64
        for firstRow in stride(from: 0, to: rows, by: tileRows) {
            let tile = Swift.min(tileRows, rows - firstRow)
            for channel in 0..<channels {
                histograms[channel].add(strided: base + firstRow * channels + channel, count: tile, stride: channels)
            }
        }
    }

    /// Adds everything `other` observed, exactly (same result as observing its batches here).
    /// - Throws: `observerMismatch` when the granularity or bin count differ, `shapeMismatch`
    ///   when the channel counts differ.
    public mutating func merge(_ other: RangeObserver) throws {
        guard granularity == other.granularity, binCount == other.binCount else {
            throw QuantizationError.observerMismatch(tensor: tensorName, reason: "cannot merge an observer with another granularity or bin count")
        }
        if other.histograms.isEmpty { return }
        if histograms.isEmpty {
            histograms = other.histograms
            return
        }
        guard histograms.count == other.histograms.count else {
            throw QuantizationError.shapeMismatch(tensor: tensorName + " (channels)", expected: [histograms.count], actual: [other.histograms.count])
        }
        for group in histograms.indices { histograms[group].merge(other.histograms[group]) }
    }

    /// The encoding of the observed values under `scheme` (whose granularity must be the
    /// observer's), with each group's range chosen by `estimator` from its histogram
    /// (`minMax` uses the exact minimum and maximum).
    public func encoding(scheme: QuantScheme, estimator: RangeEstimator) throws -> Encoding {
        try estimator.validate()
        guard scheme.granularity == granularity else {
            throw QuantizationError.observerMismatch(tensor: tensorName, reason: "scheme granularity \(scheme.granularity) differs from the observer's \(granularity)")
        }
        guard !histograms.isEmpty, histograms.allSatisfy({ $0.count > 0 }) else {
            throw QuantizationError.observerMismatch(tensor: tensorName, reason: "no values observed")
        }
        var minimums = [Float]()
        var maximums = [Float]()
        for histogram in histograms {
            let range: (Float, Float)
            switch estimator {
            case .minMax:
                range = (histogram.minimum, histogram.maximum)
            case .percentile(let percentile):
                range = (histogram.percentile(100 - percentile), histogram.percentile(percentile))
            case .sqnr, .mse:
                let centres = histogram.weightedCentres()
                range = centres.values.withUnsafeBufferPointer { values in
                    centres.weights.withUnsafeBufferPointer { weights in
                        estimator.searchRange(sample: WeightedSample(values: values, weights: weights),
                                              minimum: histogram.minimum, maximum: histogram.maximum, scheme: scheme)
                    }
                }
            }
            minimums.append(range.0)
            maximums.append(range.1)
        }
        let scaleShape = granularity == .perTensor ? [] : [histograms.count]
        return try Encoding(minimums: minimums, maximums: maximums, scheme: scheme, scaleShape: scaleShape, tensorName: tensorName)
    }
}
