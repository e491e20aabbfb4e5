import Foundation

/// What cross-layer equalization (and high-bias absorption) did to a graph.
public struct CrossLayerEqualizationReport: Sendable, Equatable, Codable {
    /// Layers scaled together: a pair or a depthwise-separable triplet.
    public struct ScaledSet: Sendable, Equatable, Codable {
        public var layers: [String]
        /// What sits between consecutive layers: the ReLU's name, or "none".
        public var between: [String]
        public init(layers: [String], between: [String]) {
            self.layers = layers
            self.between = between
        }
    }

    /// Layers left alone, and why: one layer when nothing could follow it in a set, two when
    /// a pair was found but cannot be scaled.
    public struct Skipped: Sendable, Equatable, Codable {
        public var layers: [String]
        public var reason: String
        public init(layers: [String], reason: String) {
            self.layers = layers
            self.reason = reason
        }
    }

    /// How uneven a layer's per-output-channel weight ranges are: max / min of `max|W[o]|`
    /// over output channels with a non-zero range (1 = perfectly balanced). Per-tensor
    /// quantization loses the small channels when this is large.
    public struct RangeSpread: Sendable, Equatable, Codable {
        public var layer: String
        public var before: Double
        public var after: Double
        public init(layer: String, before: Double, after: Double) {
            self.layer = layer
            self.before = before
            self.after = after
        }
    }

    /// Bias moved from one layer into the next by high-bias absorption.
    public struct Absorption: Sendable, Equatable, Codable {
        /// The layer whose bias was lowered.
        public var from: String
        /// The layer whose bias took the difference through its weights.
        public var into: String
        /// Channels with a non-zero absorbed amount.
        public var channels: Int
        /// The largest amount taken from one channel (in the equalized model's units).
        public var largestAmount: Double
        /// True when `into` zero-pads its input, where absorption is approximate at the borders.
        public var approximateAtBorders: Bool
        public init(from: String, into: String, channels: Int, largestAmount: Double, approximateAtBorders: Bool) {
            self.from = from
            self.into = into
            self.channels = channels
            self.largestAmount = largestAmount
            self.approximateAtBorders = approximateAtBorders
        }
    }

    /// ReLU6 nodes replaced by ReLU before equalizing (the result is the ReLU model).
    public var replacedReLU6: [String]
    /// ReLU6 (or bounded ReLU) nodes between scaled layers whose ceilings were rescaled per
    /// channel (`replacesReLU6` off): the equalized model is then the original model.
    public var rescaledCeilings: [String]
    public var sets: [ScaledSet]
    public var skipped: [Skipped]
    /// Passes over all sets until every scale factor was within the tolerance of 1.
    public var iterations: Int
    public var converged: Bool
    /// The largest |log s| of the last pass.
    public var lastLargestLogScale: Double
    public var spreads: [RangeSpread]
    /// Whether high-bias absorption was asked for.
    public var highBiasAbsorptionRequested: Bool
    public var absorptions: [Absorption]
    public var absorptionSkipped: [Skipped]

    public init(replacedReLU6: [String], rescaledCeilings: [String] = [], sets: [ScaledSet], skipped: [Skipped], iterations: Int,
                converged: Bool, lastLargestLogScale: Double, spreads: [RangeSpread], highBiasAbsorptionRequested: Bool,
                absorptions: [Absorption], absorptionSkipped: [Skipped]) {
        self.replacedReLU6 = replacedReLU6
        self.rescaledCeilings = rescaledCeilings
        self.sets = sets
        self.skipped = skipped
        self.iterations = iterations
        self.converged = converged
        self.lastLargestLogScale = lastLargestLogScale
        self.spreads = spreads
        self.highBiasAbsorptionRequested = highBiasAbsorptionRequested
        self.absorptions = absorptions
        self.absorptionSkipped = absorptionSkipped
    }

    /// Median of the per-layer spreads before and after, over the scaled layers.
    public var medianSpread: (before: Double, after: Double)? {
        guard !spreads.isEmpty else { return nil }
        func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        return (median(spreads.map(\.before)), median(spreads.map(\.after)))
    }

    /// Human-readable summary, one fact per line.
    public var lines: [String] {
        var lines: [String] = []
        if !replacedReLU6.isEmpty {
            lines.append("cross-layer equalization: replaced \(replacedReLU6.count) ReLU6 with ReLU first (as AIMET does); "
                         + "the equalized model is the ReLU model, which differs from the original where activations exceed 6")
        }
        if !rescaledCeilings.isEmpty {
            lines.append("cross-layer equalization: kept \(rescaledCeilings.count) ReLU6 exact as per-channel bounded ReLUs "
                         + "(ceiling 6/s for a channel divided by s); the equalized model is the original model")
        }
        if sets.isEmpty {
            lines.append("cross-layer equalization: no layer pair or triplet to scale; weights unchanged")
        } else {
            let triplets = sets.filter { $0.layers.count == 3 }.count
            let state = converged ? "converged" : "stopped without converging"
            lines.append("cross-layer equalization: scaled \(sets.count) set(s) (\(sets.count - triplets) pairs, \(triplets) depthwise triplets) "
                         + "in \(iterations) iteration(s), \(state) (last largest |log s| \(String(format: "%.2e", lastLargestLogScale)))")
            if let median = medianSpread {
                lines.append(String(format: "  per-channel weight range spread (max/min), median over scaled layers: %.1f before, %.1f after",
                                    median.before, median.after))
            }
            for set in sets {
                var chain = set.layers[0]
                for (index, between) in set.between.enumerated() {
                    chain += between == "none" ? " → " : " → (\(between)) → "
                    chain += set.layers[index + 1]
                }
                lines.append("  scaled \(chain)")
            }
        }
        for skip in skipped {
            lines.append(skip.layers.count == 1
                ? "  nothing scaled after \(skip.layers[0]): \(skip.reason)"
                : "  skipped \(skip.layers.joined(separator: " → ")): \(skip.reason)")
        }
        if highBiasAbsorptionRequested {
            let count = absorptions.reduce(0) { $0 + $1.channels }
            lines.append("high-bias absorption: moved bias of \(count) channel(s) across \(absorptions.count) layer pair(s)")
            for absorption in absorptions {
                let note = absorption.approximateAtBorders ? " (approximate at the borders: the next layer pads)" : ""
                lines.append("  \(absorption.from) → \(absorption.into): \(absorption.channels) channel(s), largest "
                             + String(format: "%.4g", absorption.largestAmount) + note)
            }
            for skip in absorptionSkipped { lines.append("  no absorption \(skip.layers.joined(separator: " → ")): \(skip.reason)") }
        }
        return lines
    }
}
