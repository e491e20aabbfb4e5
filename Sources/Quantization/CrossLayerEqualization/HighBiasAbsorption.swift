import ModelGraph

/// High-bias absorption (Nagel et al. 2019, section 4.1.2), run after cross-layer scaling.
///
/// Equalization can leave large biases in layers whose outputs were scaled up, and a large
/// constant in an activation wastes its quantization range. For a pair `L₁ → relu → L₂` whose
/// layer 1 absorbed a batch norm (γ, β), the pre-activation of channel `i` is roughly
/// N(βᵢ, γᵢ²), so `cᵢ = max(0, βᵢ − 3|γᵢ|)` lies below almost every value it takes. Then
/// `relu(x − c) = relu(x) − c` whenever `x ≥ c`, and
/// `W₂·relu(x) + b₂ = W₂·relu(x − c) + (b₂ + W₂·c)`: subtract `c` from layer 1's bias and add
/// `W₂·c` (summed over the kernel window and the channels each output reads) to layer 2's.
/// Without an activation between the layers the whole β moves, exactly. Through a clipping
/// activation with ceiling `Cᵢ` (a ReLU6 kept exact), `cᵢ` is at most `Cᵢ` and the ceiling
/// drops to `Cᵢ − cᵢ`: `min(max(x − c, 0), C − c) = min(max(x, 0), C) − c` for `x ≥ c`.
///
/// γ and β are those of the batch norm as folded; cross-layer scaling has since divided
/// layer 1's output channel `i` by a factor `Sᵢ`, so they are used as `γᵢ/Sᵢ`, `βᵢ/Sᵢ`.
///
/// Approximation at borders (accepted, as in AIMET): when layer 2 zero-pads its input (the
/// 3×3 depthwise convolutions of MobileNetV2), padded pixels stand for an activation of 0 both
/// before and after, but the new bias adds `W₂·c` for every tap, including the taps that fall
/// on padding. Outputs near the border therefore shift by `W₂[tap]·c` summed over their
/// padded taps; the interior is exact (for inputs above `c`). On small feature maps the
/// border is a large share of the pixels; `absorbsIntoPaddedLayers: false` keeps only the
/// exact absorptions.
enum HighBiasAbsorption {
    static func absorb(sets: [EqualizationSet], graph: Graph, layers: inout [Int: WeightedLayer],
                       ceilings: inout [Int: [Double]], outputDivisors: [Int: [Double]], foldedBatchNorms: [FoldedBatchNorm],
                       sigmas: Double, intoPaddedLayers: Bool) -> ([CrossLayerEqualizationReport.Absorption], [CrossLayerEqualizationReport.Skipped]) {
        var statistics: [String: FoldedBatchNorm] = [:]
        for fold in foldedBatchNorms where fold.direction == .intoPreceding { statistics[fold.layer] = fold }
        var absorptions: [CrossLayerEqualizationReport.Absorption] = []
        var skipped: [CrossLayerEqualizationReport.Skipped] = []
        for set in sets {
            for position in 0..<(set.layers.count - 1) {
                let first = set.layers[position], second = set.layers[position + 1]
                let names = [graph.nodes[first].name, graph.nodes[second].name]
                guard let fold = statistics[names[0]] else {
                    skipped.append(.init(layers: names, reason: "no batch norm was folded into \(names[0]), so its output statistics are unknown"))
                    continue
                }
                guard fold.gamma.count == layers[first]!.outputChannels else {
                    skipped.append(.init(layers: names, reason: "the batch norm folded into \(names[0]) has \(fold.gamma.count) channels, the layer \(layers[first]!.outputChannels)"))
                    continue
                }
                if !intoPaddedLayers && layers[second]!.padsInput {
                    skipped.append(.init(layers: names, reason: "\(names[1]) zero-pads its input, where absorption is approximate (padded layers excluded)"))
                    continue
                }
                let activation = set.activations[position]
                let ceiling = activation.flatMap { ceilings[$0] }
                let divisors = outputDivisors[first]!
                let amounts = fold.gamma.indices.map { channel -> Double in
                    let beta = Double(fold.beta[channel]) / divisors[channel]
                    let gamma = Double(fold.gamma[channel]) / divisors[channel]
                    guard activation != nil else { return beta }
                    let amount = max(0, beta - sigmas * abs(gamma))
                    return ceiling.map { min(amount, $0[channel]) } ?? amount
                }
                let moved = amounts.filter { $0 != 0 }.count
                guard moved > 0 else {
                    skipped.append(.init(layers: names, reason: "every channel of \(names[0]) has β ≤ \(sigmas)·|γ|; nothing to absorb"))
                    continue
                }
                let compensation = layers[second]!.response(toConstantInput: amounts)
                for channel in amounts.indices { layers[first]!.bias[channel] -= amounts[channel] }
                if let activation, ceiling != nil {
                    for channel in amounts.indices { ceilings[activation]![channel] -= amounts[channel] }
                }
                for channel in compensation.indices { layers[second]!.bias[channel] += compensation[channel] }
                absorptions.append(.init(from: names[0], into: names[1], channels: moved,
                                         largestAmount: amounts.map(abs).max() ?? 0,
                                         approximateAtBorders: layers[second]!.padsInput))
            }
        }
        return (absorptions, skipped)
    }
}
