/// A histogram of one group's values that can be grown and merged *exactly*.
///
/// Bins live on a global grid: bin `k` covers `[k·w, (k+1)·w)` with `w = 2^exponent`. The window
/// holds `binCount` bins starting at `firstBin = floor(minimum / w)`. The exponent is the smallest
/// one (≥ `minimumExponent`) for which the observed `[minimum, maximum]` spans fewer than
/// `binCount` bins and `|x| / w < 2^53` (so bin indices are exact integers).
///
/// When a batch widens the range, the width doubles until the range fits; bin `k` of width `w`
/// is exactly bin `k >> 1` of width `2w` (floor division), so doubling merges pairs of counts
/// without approximation. Because "fits" is monotone in the exponent, the final exponent and
/// every count are the same whatever the batch order or split: observing batches one by one,
/// merging per-batch histograms, or observing everything at once give identical histograms.
/// Memory: `binCount` counters per group.
struct RangeHistogram: Sendable, Equatable {
    static let minimumExponent = -149

    let binCount: Int
    private(set) var count: UInt64 = 0
    private(set) var minimum: Float = .infinity
    private(set) var maximum: Float = -.infinity
    private(set) var exponent: Int = minimumExponent
    private(set) var firstBin: Int = 0
    private(set) var counts: [UInt64]

    init(binCount: Int) {
        self.binCount = binCount
        counts = [UInt64](repeating: 0, count: binCount)
    }

    var binWidth: Double { Double(sign: .plus, exponent: exponent, significand: 1) }

    @inline(__always)
    static func binIndex(_ value: Float, inverseWidth: Double) -> Double {
        (Double(value) * inverseWidth).rounded(.down)
    }

    /// True when `[low, high]` fits the window at `exponent`.
    func fits(low: Float, high: Float, exponent: Int) -> Bool {
        let inverseWidth = Double(sign: .plus, exponent: -exponent, significand: 1)
        let first = RangeHistogram.binIndex(low, inverseWidth: inverseWidth)
        let last = RangeHistogram.binIndex(high, inverseWidth: inverseWidth)
        let limit = 0x1p53
        return abs(first) < limit && abs(last) < limit && last - first < Double(binCount)
    }

    /// The smallest exponent ≥ `start` at which `[low, high]` fits.
    func smallestExponent(low: Float, high: Float, from start: Int) -> Int {
        var candidate = start
        // Lower bounds that never skip a fitting exponent: w > (high − low) / binCount and
        // w > max|x| / 2^53 are necessary for fitting.
        let spread = (Double(high) - Double(low)) / Double(binCount)
        if spread > 0 { candidate = Swift.max(candidate, spread.exponent) }
        let magnitude = Swift.max(abs(Double(low)), abs(Double(high)))
        if magnitude > 0 { candidate = Swift.max(candidate, Int(magnitude.exponent) - 54) }
        while !fits(low: low, high: high, exponent: candidate) { candidate += 1 }
        return candidate
    }

    /// Widens the window (re-binning exactly) so that `[low, high]` fits, for finite bounds.
    mutating func include(low: Float, high: Float) {
        let newMinimum = Swift.min(minimum, low)
        let newMaximum = Swift.max(maximum, high)
        let start = count == 0 ? RangeHistogram.minimumExponent : exponent
        let newExponent = smallestExponent(low: newMinimum, high: newMaximum, from: start)
        let inverseWidth = Double(sign: .plus, exponent: -newExponent, significand: 1)
        let newFirst = Int(RangeHistogram.binIndex(newMinimum, inverseWidth: inverseWidth))
        if count > 0 && (newExponent != exponent || newFirst != firstBin) {
            let shift = newExponent - exponent
            var rebinned = [UInt64](repeating: 0, count: binCount)
            for (offset, binCountValue) in counts.enumerated() where binCountValue > 0 {
                rebinned[((firstBin + offset) >> shift) - newFirst] += binCountValue
            }
            counts = rebinned
        }
        exponent = newExponent
        firstBin = newFirst
        minimum = newMinimum
        maximum = newMaximum
    }

    /// Adds finite values that lie inside the window (call `include` first).
    mutating func add(_ values: UnsafeBufferPointer<Float>) {
        let inverseWidth = Double(sign: .plus, exponent: -exponent, significand: 1)
        let first = firstBin
        counts.withUnsafeMutableBufferPointer { bins in
            for value in values {
                bins[Int(RangeHistogram.binIndex(value, inverseWidth: inverseWidth)) - first] += 1
            }
        }
        count += UInt64(values.count)
    }

    /// Adds `count` finite values read `stride` elements apart (call `include` first).
    mutating func add(strided start: UnsafePointer<Float>, count valueCount: Int, stride: Int) {
        let inverseWidth = Double(sign: .plus, exponent: -exponent, significand: 1)
        let first = firstBin
        counts.withUnsafeMutableBufferPointer { bins in
            for index in 0..<valueCount {
                bins[Int(RangeHistogram.binIndex(start[index * stride], inverseWidth: inverseWidth)) - first] += 1
            }
        }
        count += UInt64(valueCount)
    }

    /// Merges another histogram's counts exactly.
    mutating func merge(_ other: RangeHistogram) {
        guard other.count > 0 else { return }
        include(low: other.minimum, high: other.maximum)
        let shift = exponent - other.exponent
        precondition(shift >= 0, "merged histogram is finer than its source")
        for (offset, binCountValue) in other.counts.enumerated() where binCountValue > 0 {
            counts[((other.firstBin + offset) >> shift) - firstBin] += binCountValue
        }
        count += other.count
    }

    /// Non-empty bin centres (clamped to the observed range) with their counts.
    func weightedCentres() -> (values: [Float], weights: [Double]) {
        var values = [Float]()
        var weights = [Double]()
        let width = binWidth
        for (offset, binCountValue) in counts.enumerated() where binCountValue > 0 {
            let centre = Float((Double(firstBin + offset) + 0.5) * width)
            values.append(Swift.min(Swift.max(centre, minimum), maximum))
            weights.append(Double(binCountValue))
        }
        return (values, weights)
    }

    /// The `percentile`-th percentile, interpolated linearly inside the bin where the cumulative
    /// count reaches `percentile/100 · count`, clamped to the observed range.
    func percentile(_ percentile: Double) -> Float {
        let target = percentile / 100 * Double(count)
        var cumulative = 0.0
        let width = binWidth
        for (offset, binCountValue) in counts.enumerated() where binCountValue > 0 {
            let binTotal = Double(binCountValue)
            if cumulative + binTotal >= target {
                let fraction = Swift.max(0, (target - cumulative) / binTotal)
                let value = Float((Double(firstBin + offset) + fraction) * width)
                return Swift.min(Swift.max(value, minimum), maximum)
            }
            cumulative += binTotal
        }
        return maximum
    }
}
