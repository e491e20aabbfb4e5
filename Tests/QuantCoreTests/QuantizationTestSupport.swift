import Foundation
import QuantCore

/// The quantization tests draw from QuantCore's seeded generator.
typealias QuantizationTestRandom = SeededGenerator

extension SeededGenerator {

    mutating func uniform(_ count: Int, in range: ClosedRange<Float>) -> [Float] {
        (0..<count).map { _ in Float.random(in: range, using: &self) }
    }

    /// Standard normal samples (Box–Muller).
    mutating func gaussian(_ count: Int, deviation: Double = 1) -> [Float] {
        (0..<count).map { _ in
            let u = Double.random(in: Double.ulpOfOne..<1, using: &self)
            let v = Double.random(in: 0..<1, using: &self)
            return Float(deviation * (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v))
        }
    }

    /// Laplace samples with scale `b`.
    mutating func laplace(_ count: Int, scale b: Double = 1) -> [Float] {
        (0..<count).map { _ in
            let u = Double.random(in: -0.5..<0.5, using: &self)
            let magnitude = -b * log(1 - 2 * abs(u))
            return Float(u < 0 ? -magnitude : magnitude)
        }
    }

    /// A heavy-tailed sample: Laplace(1) with a few large outliers of both signs.
    mutating func heavyTailed(_ count: Int, outliers: Int = 8, outlierMagnitude: Float = 40) -> [Float] {
        var values = laplace(count)
        for index in 0..<outliers {
            values[(index * 7919) % count] = (index % 2 == 0 ? 1 : -1) * outlierMagnitude * Float(1 + index % 3) / 3
        }
        return values
    }
}

/// The granularities the invariant tests run over, for a `[rows, columns]` tensor.
let invariantGranularities: [Granularity] = [.perTensor, .perChannel(axis: 0), .perBlock(axis: 1, size: 8), .perBlock(axis: 0, size: 2)]

/// Allowed deviation of `|x − x̂|` above `scale / 2` for in-range values: four units in the last
/// place of `x` (one rounding in `x / scale`, one in `q · scale`, with margin).
func roundTripTolerance(value: Float, scale: Float) -> Float {
    scale / 2 + 4 * abs(value).ulp + scale.ulp
}

/// The group index of every element (row-major) of `shape` under `granularity`, written out
/// independently of the library's segment walk.
func referenceGroupIndices(shape: [Int], granularity: Granularity) -> [Int] {
    let count = shape.reduce(1, *)
    var strides = [Int](repeating: 1, count: shape.count)
    for axis in stride(from: shape.count - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * shape[axis + 1] }
    return (0..<count).map { flat in
        let coordinates = shape.indices.map { (flat / strides[$0]) % shape[$0] }
        switch granularity {
        case .perTensor: return 0
        case .perChannel(let axis): return coordinates[axis]
        case .perBlock(let axis, let size):
            var blocked = shape
            blocked[axis] /= size
            var group = 0
            for index in shape.indices {
                let coordinate = index == axis ? coordinates[index] / size : coordinates[index]
                group = group * blocked[index] + coordinate
            }
            return group
        }
    }
}
