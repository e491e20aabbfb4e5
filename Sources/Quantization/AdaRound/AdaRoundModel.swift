import Foundation
import ModelGraph
import QuantCore
import Runtime

/// What AdaRound did to one layer.
public struct AdaRoundLayerReport: Sendable, Equatable, Codable {
    /// The layer (node) and its checkpoint weight.
    public var node: String
    public var tensor: String
    public var iterations: Int
    /// Calibration rows the layer was optimised on.
    public var rows: Int
    /// Reconstruction losses (squared error summed over outputs, mean over rows) on all rows.
    public var nearestLoss: Double
    public var adaRoundLoss: Double
    /// Nearest rounding was kept because it reconstructed at least as well.
    public var keptNearest: Bool
    /// Weights rounded the other way than nearest rounding would.
    public var flippedWeights: Int
    /// Convolutions: output positions sampled per calibration image, and the positions each
    /// image had (the rows are a seeded subsample when the first is smaller); nil for linear layers.
    public var rowsPerSample: Int?
    public var positionsPerSample: Int?
    /// Wall time of the layer (progress display only; not stored, so calibration files stay
    /// identical from run to run).
    public var seconds: Double = 0

    enum CodingKeys: String, CodingKey {
        case node, tensor, iterations, rows
        case nearestLoss = "nearest_loss"
        case adaRoundLoss = "adaround_loss"
        case keptNearest = "kept_nearest"
        case flippedWeights = "flipped_weights"
        case rowsPerSample = "rows_per_sample"
        case positionsPerSample = "positions_per_sample"
    }
}

/// AdaRound over a graph's linear and convolution layers, layer by layer in graph order
/// (AIMET's sequential mode): each layer learns from its inputs in the model whose earlier
/// layers are already AdaRounded (and whose other weights are quantized with their
/// encodings), with the fp32 model's output of that layer (without bias) as the target.
/// Activations stay float while rounding is learned (as in AIMET, whose AdaRound model has
/// activation quantizers disabled); activation encodings are computed afterwards on the
/// adjusted weights.
///
/// A convolution is a matrix product on im2col rows (`AdaRoundConvolution`); since every
/// output position is a row (112×112 per image early in MobileNetV2), each image contributes
/// a seeded sample of at most `parameters.rowsPerSample` positions (fewer when
/// `parameters.maximumRows` or a memory budget requires), the same positions in the fp32
/// and the quantized pass. Batches still draw `batchSize` images per step, as AIMET does.
public enum AdaRoundModel {
    /// Runs every calibration sample through `executor`, calling `tap` for each node.
    public typealias SampleRunner = (_ executor: GraphExecutor, _ tap: ActivationTap) throws -> Void
    /// Progress: (layers done, layers in total, the report of the layer just done).
    public typealias Progress = (Int, Int, AdaRoundLayerReport) -> Void

    /// The result of AdaRound on a model.
    public struct Result: Sendable {
        /// Adjusted weights (on their encodings' grids) by checkpoint tensor name.
        public var weights: [String: Tensor]
        public var layers: [AdaRoundLayerReport]
        public var notes: [String]
    }

    /// Floats one layer's captured rows (inputs and targets) may take; rows per sample are
    /// lowered to fit (256 MB).
    static let layerBudget = 1 << 26
    /// Floats of fp32 targets captured in one pass of the fp32 model.
    static let targetBudget = 1 << 26

    /// AdaRounds the linear and convolution layers among `targets` (weights of other ops are
    /// left alone) on samples run by `runSamples`. Convolutions that read a graph input are
    /// skipped (no tap sees graph inputs; the `feeds:` variant handles them).
    /// - Parameters:
    ///   - iterations: per layer; nil uses AIMET's default for each layer's bit width. The Adam
    ///     step stays AIMET's for any count: a step scaled up for short runs (keeping the default
    ///     run's total travel of V) halved the calibration loss on MiniLM W4 but overfit the 64
    ///     calibration sentences (held-out cosine 0.895, below nearest rounding's 0.923).
    public static func apply(graph: Graph, targets: [QuantizationPlan.WeightTarget], encodings: [String: Encoding],
                             iterations: Int?, parameters base: AdaRoundParameters = AdaRoundParameters(iterations: 0),
                             threads: Int = ProcessInfoCores.active, runSamples: SampleRunner,
                             progress: Progress? = nil) throws -> Result {
        try apply(graph: graph, targets: targets, encodings: encodings, iterations: iterations, base: base, threads: threads,
                  sampleCount: nil, observesGraphInputs: false, runner: { executor, tap, _ in try runSamples(executor, tap) },
                  progress: progress)
    }

    /// AdaRound on `feeds` (one `[input name: tensor]` per run; every image of a batch is one
    /// sample), including convolutions that read a graph input.
    public static func apply(graph: Graph, targets: [QuantizationPlan.WeightTarget], encodings: [String: Encoding],
                             iterations: Int?, parameters base: AdaRoundParameters = AdaRoundParameters(iterations: 0),
                             threads: Int = ProcessInfoCores.active, feeds: [[String: Tensor]],
                             progress: Progress? = nil) throws -> Result {
        let samples = feeds.reduce(0) { total, feed in
            total + (graph.inputs.first.flatMap { feed[$0.name]?.shape.first } ?? 1)
        }
        return try apply(graph: graph, targets: targets, encodings: encodings, iterations: iterations, base: base, threads: threads,
                         sampleCount: samples, observesGraphInputs: true, runner: { executor, tap, convolutionTap in
            for feed in feeds {
                convolutionTap?.observe(feed: feed)
                _ = try executor.run(inputs: feed, tap: tap)
            }
        }, progress: progress)
    }

    typealias CaptureRunner = (GraphExecutor, ActivationTap, ConvolutionRowTap?) throws -> Void

    struct Layer {
        var target: QuantizationPlan.WeightTarget
        var node: Node
        /// The value the layer reads, and its producer (nil for a graph input).
        var source: ValueID
        var producer: String?
        var convolution: AdaRoundConvolution?
        var picks = 0
    }

    static func apply(graph: Graph, targets: [QuantizationPlan.WeightTarget], encodings: [String: Encoding],
                      iterations: Int?, base: AdaRoundParameters, threads: Int, sampleCount: Int?, observesGraphInputs: Bool,
                      runner: CaptureRunner, progress: Progress?) throws -> Result {
        var notes: [String] = []
        var layers: [Layer] = []
        for target in targets {
            guard let node = graph.node(named: target.node), encodings[target.tensor] != nil else { continue }
            switch node.op {
            case .linear:
                guard let input = node.inputs.first, let producer = graph.producer(of: input) else {
                    notes.append("AdaRound skipped \(node.name): its input is a graph input, which no tap sees")
                    continue
                }
                layers.append(Layer(target: target, node: node, source: input, producer: producer.name))
            case .conv2d:
                guard let input = node.inputs.first else { continue }
                let convolution: AdaRoundConvolution
                switch AdaRoundConvolution.make(node) {
                case let .success(made): convolution = made
                case let .failure(unsupported):
                    notes.append("AdaRound skipped \(node.name): \(unsupported.reason)")
                    continue
                }
                let producer = graph.producer(of: input)
                guard producer != nil || observesGraphInputs else {
                    notes.append("AdaRound skipped \(node.name): its input is a graph input, which no tap sees")
                    continue
                }
                var picks = max(1, base.rowsPerSample)
                if let samples = sampleCount, samples > 0 {
                    picks = min(picks, max(1, base.maximumRows / samples),
                                max(1, layerBudget / (samples * (convolution.rowWidth + convolution.outputChannels))))
                }
                layers.append(Layer(target: target, node: node, source: input, producer: producer?.name,
                                    convolution: convolution, picks: picks))
            default:
                continue
            }
        }
        guard !layers.isEmpty else { return Result(weights: [:], layers: [], notes: notes) }

        // fp32 inputs of every linear layer, from one pass of the fp32 model.
        let linearProducers = Set(layers.filter { $0.convolution == nil }.compactMap(\.producer))
        let floatTap = RowCaptureTap(nodes: linearProducers)
        if !linearProducers.isEmpty { try runner(GraphExecutor(graph: graph, threads: threads), floatTap, nil) }

        // fp32 targets of the convolutions, captured chunk by chunk when first needed.
        var chunks: [[Int]] = []
        var chunkFloats = 0
        for index in layers.indices {
            guard let convolution = layers[index].convolution else { continue }
            let floats = (sampleCount ?? 64) * layers[index].picks * convolution.outputChannels
            if chunks.isEmpty || chunkFloats + floats > targetBudget {
                chunks.append([])
                chunkFloats = 0
            }
            chunks[chunks.count - 1].append(index)
            chunkFloats += floats
        }
        var convolutionTargets: [Int: ConvolutionRowTap.Slot] = [:]
        func captureTargets(of index: Int) throws {
            guard convolutionTargets[index] == nil, let chunk = chunks.first(where: { $0.contains(index) }) else { return }
            let slots = chunk.map { ConvolutionRowTap.Slot(layer: $0, convolution: layers[$0].convolution!, picks: layers[$0].picks,
                                                            weight: layers[$0].node.parameters["weight"]!.scalars) }
            let tap = ConvolutionRowTap(slots: slots, sources: chunk.map { layers[$0].source }, graph: graph, seed: base.seed, threads: threads)
            try runner(GraphExecutor(graph: graph, threads: threads), tap, tap)
            if let failure = tap.failure {
                throw QuantizationPipelineError.invalidTechniqueInput(technique: "adaround", node: layers[index].node.name, reason: failure)
            }
            for member in chunk { convolutionTargets[member] = tap.slot(layer: member) }
        }

        // Layers that read the same value (query, key, value) learn from one quantized pass.
        var stages: [[Int]] = []
        for index in layers.indices {
            if let last = stages.last?.last, layers[last].source == layers[index].source,
               (layers[last].convolution == nil) == (layers[index].convolution == nil) {
                stages[stages.count - 1].append(index)
            } else {
                stages.append([index])
            }
        }
        var quantized = try QuantizationSimulator.applyingWeightEncodings(encodings, to: graph)
        var adjusted: [String: Tensor] = [:]
        var reports: [AdaRoundLayerReport] = []
        var positionsSeen: [Int: Int] = [:]

        /// Optimises layer `index` on `data` (its weight as `[outputs, columns]`), records the result.
        func learn(_ index: Int, flatWeight: Tensor, data: AdaRoundLayerData, started: Date) throws {
            let (target, node) = (layers[index].target, layers[index].node)
            guard let encoding = encodings[target.tensor], let original = node.parameters["weight"] else { return }
            var parameters = base
            parameters.iterations = iterations ?? AdaRoundParameters.defaultIterations(bits: encoding.scheme.bits)
            parameters.seed = base.seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
            guard let result = try AdaRoundLayer.optimize(weight: flatWeight, encoding: encoding, data: data,
                                                          parameters: parameters, threads: threads) else {
                notes.append("AdaRound skipped \(node.name): granularity \(encoding.scheme.granularity) is not supported")
                return
            }
            if result.keptNearest {
                notes.append("AdaRound kept nearest rounding for \(node.name): loss \(result.adaRoundLoss) ≥ nearest \(result.nearestLoss)")
            }
            let weight = Tensor(shape: original.shape, scalars: result.weight.scalars)
            adjusted[target.tensor] = weight
            if let position = quantized.nodes.firstIndex(where: { $0.name == node.name }) {
                quantized.nodes[position].parameters["weight"] = weight
            }
            var report = AdaRoundLayerReport(node: node.name, tensor: target.tensor, iterations: parameters.iterations,
                                             rows: data.rows, nearestLoss: result.nearestLoss, adaRoundLoss: result.adaRoundLoss,
                                             keptNearest: result.keptNearest, flippedWeights: result.flippedWeights)
            if layers[index].convolution != nil {
                report.rowsPerSample = layers[index].picks
                report.positionsPerSample = positionsSeen[index]
            }
            report.seconds = Date().timeIntervalSince(started)
            reports.append(report)
            progress?(reports.count, layers.count, report)
        }

        for stage in stages {
            let first = layers[stage[0]]
            if first.convolution != nil {
                for index in stage { try captureTargets(of: index) }
                let slots = stage.map { ConvolutionRowTap.Slot(layer: $0, convolution: layers[$0].convolution!, picks: layers[$0].picks,
                                                                weight: nil) }
                let tap = ConvolutionRowTap(slots: slots, sources: stage.map { layers[$0].source }, graph: quantized,
                                            seed: base.seed, threads: threads)
                try runner(GraphExecutor(graph: quantized, threads: threads), tap, tap)
                if let failure = tap.failure {
                    throw QuantizationPipelineError.invalidTechniqueInput(technique: "adaround", node: first.node.name, reason: failure)
                }
                for index in stage {
                    let started = Date()
                    let node = layers[index].node, convolution = layers[index].convolution!
                    guard let targetsSlot = convolutionTargets.removeValue(forKey: index), let inputsSlot = tap.slot(layer: index),
                          let weight = node.parameters["weight"], targetsSlot.sampleRows == inputsSlot.sampleRows,
                          !inputsSlot.sampleRows.isEmpty else {
                        notes.append("AdaRound skipped \(node.name): its fp32 and quantized passes saw different inputs, or none")
                        continue
                    }
                    positionsSeen[index] = inputsSlot.positionsPerSample
                    let flat = Tensor(shape: [convolution.outputChannels, convolution.weightColumns], scalars: weight.scalars)
                    let data = AdaRoundLayerData(inputs: inputsSlot.values, targets: targetsSlot.values, sampleRows: inputsSlot.sampleRows,
                                                 inputFeatures: convolution.weightColumns, outputFeatures: convolution.outputChannels,
                                                 layout: convolution.layout)
                    try learn(index, flatWeight: flat, data: data, started: started)
                }
                continue
            }
            let producer = first.producer!
            let tap = RowCaptureTap(nodes: [producer])
            try runner(GraphExecutor(graph: quantized, threads: threads), tap, nil)
            let quantizedInputs = tap.rows[producer] ?? []
            let floatInputs = floatTap.rows[producer] ?? []
            let sampleRows = tap.sampleRows[producer] ?? []
            precondition(quantizedInputs.count == floatInputs.count && sampleRows == floatTap.sampleRows[producer] ?? [],
                         "the fp32 and quantized passes saw different inputs")
            for index in stage {
                let node = layers[index].node
                let started = Date()
                guard let weight = node.parameters["weight"], weight.rank == 2,
                      !sampleRows.isEmpty, quantizedInputs.count == sampleRows.reduce(0, +) * weight.shape[1] else {
                    notes.append("AdaRound skipped \(node.name): its weight or inputs do not form a matrix product")
                    continue
                }
                let data = AdaRoundLayerData(quantizedInputs: quantizedInputs, floatInputs: floatInputs, weight: weight,
                                             sampleRows: sampleRows, threads: threads)
                try learn(index, flatWeight: weight, data: data, started: started)
            }
        }
        return Result(weights: adjusted, layers: reports, notes: notes)
    }
}

/// Records the output rows of chosen nodes: every call appends `shape[0]` samples of
/// `count / (shape[0] · features)` rows each (features = the last axis).
final class RowCaptureTap: ActivationTap, @unchecked Sendable {
    let nodes: Set<String>
    var rows: [String: [Float]] = [:]
    var sampleRows: [String: [Int]] = [:]

    init(nodes: Set<String>) { self.nodes = nodes }

    func nodeDidRun(_ node: Node, output: inout Tensor) {
        guard nodes.contains(node.name), let features = output.shape.last, features > 0, output.rank >= 2 else { return }
        let samples = output.shape[0]
        guard samples > 0 else { return }
        rows[node.name, default: []].append(contentsOf: output.scalars)
        sampleRows[node.name, default: []].append(contentsOf: repeatElement(output.count / (samples * features), count: samples))
    }
}
