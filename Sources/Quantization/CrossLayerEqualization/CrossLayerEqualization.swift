import Foundation
import ModelGraph
import QuantCore

/// Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization Through Weight
/// Equalization and Bias Correction", section 4.1; AIMET's `equalize_model`).
///
/// For consecutive layers `y = W₂·relu(W₁·x + b₁) + b₂`, ReLU is positively homogeneous, so
/// dividing output channel `i` of layer 1 (weights and bias) by `sᵢ > 0` and multiplying the
/// weights that read input channel `i` of layer 2 by `sᵢ` leaves the function unchanged.
/// With `r¹ᵢ = max|W₁[i, ·]|` and `r²ᵢ = max|W₂[·, i]|`, the choice `sᵢ = √(r¹ᵢ / r²ᵢ)` makes
/// both ranges `√(r¹ᵢ r²ᵢ)`, which maximises the precision left to every channel by
/// per-tensor quantization. For a depthwise-separable triplet `conv → depthwise → conv`
/// (AIMET's variant) the three ranges meet at their geometric mean `gᵢ = ∛(r⁰ᵢ r¹ᵢ r²ᵢ)`:
/// `s₁₂ = r⁰ / g` between the first two layers and `s₂₃ = g / r²` between the last two.
///
/// A layer can end one set and begin the next, so the scaling repeats over all sets until
/// every factor of a pass is within `tolerance` of 1 (or `maximumIterations` passes). Weights
/// are rescaled in `Double` and rounded to float32 once. Layouts are the IR's: conv weights
/// `[out, kh, kw, in / groups]`, linear `[out, in]`; grouped convolutions map each weight
/// column to its group's input channel.
///
/// ReLU6 clips at a fixed 6, which does not commute with scaling by itself. AIMET replaces
/// every ReLU6 by ReLU first (`replacesReLU6`), and the equalized graph is then equivalent to
/// the *ReLU* model, not to the original one (MobileNetV2: the two agree on 97.5% of top-1
/// classes; EfficientNet-Lite0, which relies on the clipping: 33.8%). By default the clip is
/// kept instead: `min(max(x, 0), 6)` of a channel divided by `s` is `min(max(x/s, 0), 6/s)`,
/// so a ReLU6 between scaled layers becomes a `boundedReLU` with ceiling `6/sᵢ` per channel,
/// and the equalized graph is exactly the original model. The report lists either change.
public enum CrossLayerEqualization {
    static let technique = "cross-layer equalization"

    /// Tuning of the pass.
    public struct Options: Sendable, Equatable, Codable {
        /// Passes over all sets at most.
        public var maximumIterations: Int
        /// Stop when every scale factor of a pass has |log s| ≤ tolerance.
        public var tolerance: Double
        /// Replace ReLU6 by ReLU before equalizing (AIMET's behaviour); when false (the
        /// default), a ReLU6 between scaled layers keeps its clip as per-channel ceilings.
        public var replacesReLU6: Bool
        /// Run high-bias absorption after scaling (needs the batch norms folded into the
        /// preceding layers).
        public var absorbsHighBias: Bool
        /// Absorb `max(0, β − k·|γ|)` with this `k` (the paper's 3: ~0.1 % of a Gaussian
        /// pre-activation lies below).
        public var absorptionSigmas: Double
        /// Also absorb into layers that zero-pad their input (AIMET does; the result is then
        /// approximate near the borders, see `HighBiasAbsorption`). Off by default: on
        /// MobileNetV2 (320 held-out views, ReLU6 replaced by ReLU) the equalized graph,
        /// before any quantization, agrees with fp32 on 78.1% of top-1 classes with it and
        /// 94.1% without, and W8A8 per-tensor with bias correction reaches 78.1% with it and
        /// 81.9% without. When false such pairs are skipped with a reason.
        public var absorbsIntoPaddedLayers: Bool

        public init(maximumIterations: Int = 100, tolerance: Double = 1e-6, replacesReLU6: Bool = false,
                    absorbsHighBias: Bool = true, absorptionSigmas: Double = 3, absorbsIntoPaddedLayers: Bool = false) {
            self.maximumIterations = maximumIterations
            self.tolerance = tolerance
            self.replacesReLU6 = replacesReLU6
            self.absorbsHighBias = absorbsHighBias
            self.absorptionSigmas = absorptionSigmas
            self.absorbsIntoPaddedLayers = absorbsIntoPaddedLayers
        }
    }

    /// `graph` with every ReLU6 replaced by ReLU, and the names of the replaced nodes. This is
    /// the model the equalized graph is equivalent to.
    public static func replacingReLU6(in graph: Graph) -> (Graph, [String]) {
        var result = graph
        var replaced: [String] = []
        for index in result.nodes.indices where result.nodes[index].op == .activation(.relu6) {
            result.nodes[index].op = .activation(.relu)
            replaced.append(result.nodes[index].name)
        }
        return (result, replaced)
    }

    /// Equalizes the weight ranges of every conv/linear pair and depthwise triplet of
    /// `graph`, then (per `options`) absorbs high biases using `foldedBatchNorms` (the
    /// `intoPreceding` folds of `BatchNormFolding.fold`; empty skips absorption with a reason).
    public static func equalize(_ graph: Graph, foldedBatchNorms: [FoldedBatchNorm] = [],
                                options: Options = Options()) throws -> (Graph, CrossLayerEqualizationReport) {
        guard options.maximumIterations >= 1, options.tolerance >= 0, options.absorptionSigmas >= 0 else {
            throw QuantizationPipelineError.invalidTechniqueInput(
                technique: technique, node: "<options>",
                reason: "needs maximumIterations ≥ 1, tolerance ≥ 0 and absorptionSigmas ≥ 0")
        }
        var working = graph
        var replaced: [String] = []
        if options.replacesReLU6 { (working, replaced) = replacingReLU6(in: graph) }

        let (sets, skippedPairs) = EqualizationSetFinder(graph: working).find()
        var layers: [Int: WeightedLayer] = [:]
        for index in Set(sets.flatMap(\.layers)).sorted() {
            layers[index] = try WeightedLayer(working.nodes[index], technique: technique)
        }
        for set in sets {
            for (first, second) in zip(set.layers, set.layers.dropFirst())
            where layers[first]!.outputChannels != layers[second]!.inputChannels {
                throw QuantizationPipelineError.invalidTechniqueInput(
                    technique: technique, node: working.nodes[second].name,
                    reason: "reads \(layers[second]!.inputChannels) channels, but \(working.nodes[first].name) produces \(layers[first]!.outputChannels)")
            }
        }
        let spreadsBefore = layers.mapValues { spread($0.outputRanges()) }

        // Scale until the factors settle; `outputDivisors` accumulates what each layer's
        // output channels were divided by (high-bias absorption rescales γ and β with it).
        var outputDivisors = layers.mapValues { [Double](repeating: 1, count: $0.outputChannels) }
        var iterations = 0
        var largest = 0.0
        var converged = sets.isEmpty
        while !sets.isEmpty && iterations < options.maximumIterations {
            iterations += 1
            largest = 0
            for set in sets {
                let change = set.layers.count == 3
                    ? scaleTriplet(set.layers, &layers, &outputDivisors)
                    : scalePair(set.layers, &layers, &outputDivisors)
                largest = max(largest, change)
            }
            if largest <= options.tolerance {
                converged = true
                break
            }
        }

        var ceilings = try scaledCeilings(sets: sets, graph: working, outputDivisors: outputDivisors)
        var absorptions: [CrossLayerEqualizationReport.Absorption] = []
        var absorptionSkipped: [CrossLayerEqualizationReport.Skipped] = []
        if options.absorbsHighBias {
            (absorptions, absorptionSkipped) = HighBiasAbsorption.absorb(
                sets: sets, graph: working, layers: &layers, ceilings: &ceilings, outputDivisors: outputDivisors,
                foldedBatchNorms: foldedBatchNorms, sigmas: options.absorptionSigmas,
                intoPaddedLayers: options.absorbsIntoPaddedLayers)
        }

        for (index, layer) in layers {
            layer.store(into: &working.nodes[index], addsBias: layer.bias.contains { $0 != 0 })
        }
        for (index, ceiling) in ceilings {
            working.nodes[index].op = .boundedReLU
            working.nodes[index].parameters["ceiling"] = Tensor(shape: [ceiling.count], scalars: ceiling.map(Float.init))
            if working.nodes[index].parameterSources["ceiling"] == nil {
                working.nodes[index].parameterSources["ceiling"] = "\(working.nodes[index].name).ceiling"
            }
        }
        try working.validate()
        let names = working.nodes.map(\.name)
        let report = CrossLayerEqualizationReport(
            replacedReLU6: replaced, rescaledCeilings: ceilings.keys.sorted().map { names[$0] },
            sets: sets.map { set in
                .init(layers: set.layers.map { names[$0] }, between: set.activations.map { $0.map { names[$0] } ?? "none" })
            },
            skipped: skippedPairs.map { .init(layers: $0.layers, reason: $0.reason) },
            iterations: iterations, converged: converged, lastLargestLogScale: largest,
            spreads: layers.keys.sorted().map { .init(layer: names[$0], before: spreadsBefore[$0]!, after: spread(layers[$0]!.outputRanges())) },
            highBiasAbsorptionRequested: options.absorbsHighBias, absorptions: absorptions, absorptionSkipped: absorptionSkipped)
        return (working, report)
    }

    /// The per-channel ceilings, by activation node index, of the clipping activations (ReLU6,
    /// bounded ReLU) between scaled layers, divided by what scaling divided their channels by.
    static func scaledCeilings(sets: [EqualizationSet], graph: Graph,
                               outputDivisors: [Int: [Double]]) throws -> [Int: [Double]] {
        var ceilings: [Int: [Double]] = [:]
        for set in sets {
            for (position, activation) in set.activations.enumerated() {
                guard let activation else { continue }
                let divisors = outputDivisors[set.layers[position]]!
                let node = graph.nodes[activation]
                let original: [Double]
                switch node.op {
                case .activation(.relu6):
                    original = Array(repeating: 6, count: divisors.count)
                case .boundedReLU:
                    guard let ceiling = node.parameters["ceiling"], ceiling.count == divisors.count,
                          ceiling.scalars.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                        throw QuantizationPipelineError.invalidTechniqueInput(
                            technique: technique, node: node.name,
                            reason: "needs a finite, non-negative ceiling for each of its \(divisors.count) channels")
                    }
                    original = ceiling.scalars.map(Double.init)
                default:
                    continue
                }
                ceilings[activation] = zip(original, divisors).map { $0 / $1 }
            }
        }
        return ceilings
    }

    /// max / min over the non-zero entries (1 when there are none).
    static func spread(_ ranges: [Double]) -> Double {
        let positive = ranges.filter { $0 > 0 }
        guard let low = positive.min(), let high = positive.max() else { return 1 }
        return high / low
    }

    /// One pair step; returns the largest |log s|.
    private static func scalePair(_ indices: [Int], _ layers: inout [Int: WeightedLayer],
                                  _ divisors: inout [Int: [Double]]) -> Double {
        let first = indices[0], second = indices[1]
        let outgoing = layers[first]!.outputRanges(), incoming = layers[second]!.inputRanges()
        let factors = zip(outgoing, incoming).map { out, into in out > 0 && into > 0 ? (out / into).squareRoot() : 1 }
        layers[first]!.scaleOutputs(by: factors.map { 1 / $0 })
        layers[second]!.scaleInputs(by: factors)
        for channel in factors.indices { divisors[first]![channel] *= factors[channel] }
        return factors.reduce(0) { max($0, abs(log($1))) }
    }

    /// One triplet step (conv → depthwise → conv); returns the largest |log s|.
    private static func scaleTriplet(_ indices: [Int], _ layers: inout [Int: WeightedLayer],
                                     _ divisors: inout [Int: [Double]]) -> Double {
        let first = indices[0], middle = indices[1], last = indices[2]
        let outgoing = layers[first]!.outputRanges(), depthwise = layers[middle]!.outputRanges()
        let incoming = layers[last]!.inputRanges()
        var firstFactors = [Double](repeating: 1, count: outgoing.count)
        var secondFactors = firstFactors
        for channel in outgoing.indices {
            let ranges = (outgoing[channel], depthwise[channel], incoming[channel])
            guard ranges.0 > 0, ranges.1 > 0, ranges.2 > 0 else { continue }
            let mean = Foundation.cbrt(ranges.0 * ranges.1 * ranges.2)
            firstFactors[channel] = ranges.0 / mean
            secondFactors[channel] = mean / ranges.2
        }
        layers[first]!.scaleOutputs(by: firstFactors.map { 1 / $0 })
        layers[middle]!.scaleInputs(by: firstFactors)
        layers[middle]!.scaleOutputs(by: secondFactors.map { 1 / $0 })
        layers[last]!.scaleInputs(by: secondFactors)
        for channel in firstFactors.indices {
            divisors[first]![channel] *= firstFactors[channel]
            divisors[middle]![channel] *= secondFactors[channel]
        }
        return (firstFactors + secondFactors).reduce(0) { max($0, abs(log($1))) }
    }
}
