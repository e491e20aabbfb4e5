import Foundation
import ModelGraph
import QuantCore
import Runtime

/// The layer-by-layer walk shared by AdaRound and sequential MSE (AIMET's sequential mode):
/// for each linear and convolution layer in graph order, it captures the layer's inputs in the
/// model whose earlier layers are already solved (their weights replaced, every other weight
/// fake-quantized with its encoding) and the fp32 model's output of that layer (without bias)
/// as the target, hands both to a solver, and puts the solver's weight into the quantized model
/// before the next layer.
///
/// A convolution is a matrix product on im2col rows (`AdaRoundConvolution`); each image
/// contributes a seeded sample of at most `parameters.rowsPerSample` output positions (fewer
/// when `parameters.maximumRows` or a memory budget requires), the same positions in the fp32
/// and the quantized pass.
enum SequentialLayerWalk {
    /// Runs the calibration samples through an executor with a tap, and tells the convolution
    /// tap (when there is one and it watches graph inputs) about each feed.
    typealias CaptureRunner = (GraphExecutor, ActivationTap, ConvolutionRowTap?) throws -> Void

    /// One layer as a solver sees it.
    struct Problem {
        /// The layer's position among the walked layers, and their number.
        var index: Int
        var layerCount: Int
        var target: QuantizationPlan.WeightTarget
        var node: Node
        /// The weight as a `[outputs, columns]` matrix (OHWI flattened for convolutions).
        var weight: Tensor
        var data: AdaRoundLayerData
        /// Convolutions: output positions sampled per image, and the positions each image had.
        var rowsPerSample: Int?
        var positionsPerSample: Int?
        /// When the walk reached the layer (its captures included).
        var started: Date
    }

    /// Solves one layer: the weight (`[outputs, columns]`) the quantized model should use from
    /// now on, or nil to leave the layer as it is.
    typealias Solver = (Problem) throws -> Tensor?

    struct Layer {
        var target: QuantizationPlan.WeightTarget
        var node: Node
        /// The value the layer reads, and its producer (nil for a graph input).
        var source: ValueID
        var producer: String?
        var convolution: AdaRoundConvolution?
        var picks = 0
    }

    /// Floats one layer's captured rows (inputs and targets) may take; rows per sample are
    /// lowered to fit (256 MB).
    static let layerBudget = 1 << 26
    /// Floats of fp32 targets captured in one pass of the fp32 model.
    static let targetBudget = 1 << 26

    /// Walks the linear and convolution layers among `targets` that have an encoding, calling
    /// `solve` for each. Returns notes on the layers it could not hand to the solver.
    /// - Parameters:
    ///   - sampleCount: calibration samples (images), when known: bounds the rows per sample.
    ///   - observesGraphInputs: the runner reports feeds to the convolution tap, so layers that
    ///     read a graph input (a stem convolution) can be solved.
    static func run(graph: Graph, targets: [QuantizationPlan.WeightTarget], encodings: [String: Encoding],
                    parameters base: AdaRoundParameters, threads: Int, sampleCount: Int?, observesGraphInputs: Bool,
                    technique: String, runner: CaptureRunner, solve: Solver) throws -> [String] {
        var notes: [String] = []
        var layers: [Layer] = []
        for target in targets {
            guard let node = graph.node(named: target.node), encodings[target.tensor] != nil else { continue }
            switch node.op {
            case .linear:
                guard let input = node.inputs.first, let producer = graph.producer(of: input) else {
                    notes.append("\(technique) skipped \(node.name): its input is a graph input, which no tap sees")
                    continue
                }
                layers.append(Layer(target: target, node: node, source: input, producer: producer.name))
            case .conv2d:
                guard let input = node.inputs.first else { continue }
                let convolution: AdaRoundConvolution
                switch AdaRoundConvolution.make(node) {
                case let .success(made): convolution = made
                case let .failure(unsupported):
                    notes.append("\(technique) skipped \(node.name): \(unsupported.reason)")
                    continue
                }
                let producer = graph.producer(of: input)
                guard producer != nil || observesGraphInputs else {
                    notes.append("\(technique) skipped \(node.name): its input is a graph input, which no tap sees")
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
        guard !layers.isEmpty else { return notes }

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
                throw QuantizationPipelineError.invalidTechniqueInput(technique: technique, node: layers[index].node.name, reason: failure)
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
        func solved(_ problem: Problem) throws {
            guard let weight = try solve(problem), let original = problem.node.parameters["weight"],
                  let position = quantized.nodes.firstIndex(where: { $0.name == problem.node.name }) else { return }
            quantized.nodes[position].parameters["weight"] = Tensor(shape: original.shape, scalars: weight.scalars)
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
                    throw QuantizationPipelineError.invalidTechniqueInput(technique: technique, node: first.node.name, reason: failure)
                }
                for index in stage {
                    let started = Date()
                    let node = layers[index].node, convolution = layers[index].convolution!
                    guard let targetsSlot = convolutionTargets.removeValue(forKey: index), let inputsSlot = tap.slot(layer: index),
                          let weight = node.parameters["weight"], targetsSlot.sampleRows == inputsSlot.sampleRows,
                          !inputsSlot.sampleRows.isEmpty else {
                        notes.append("\(technique) skipped \(node.name): its fp32 and quantized passes saw different inputs, or none")
                        continue
                    }
                    let flat = Tensor(shape: [convolution.outputChannels, convolution.weightColumns], scalars: weight.scalars)
                    let data = AdaRoundLayerData(inputs: inputsSlot.values, targets: targetsSlot.values, sampleRows: inputsSlot.sampleRows,
                                                 inputFeatures: convolution.weightColumns, outputFeatures: convolution.outputChannels,
                                                 layout: convolution.layout)
                    try solved(Problem(index: index, layerCount: layers.count, target: layers[index].target, node: node, weight: flat, data: data,
                                       rowsPerSample: layers[index].picks, positionsPerSample: inputsSlot.positionsPerSample,
                                       started: started))
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
                    notes.append("\(technique) skipped \(node.name): its weight or inputs do not form a matrix product")
                    continue
                }
                let data = AdaRoundLayerData(quantizedInputs: quantizedInputs, floatInputs: floatInputs, weight: weight,
                                             sampleRows: sampleRows, threads: threads)
                try solved(Problem(index: index, layerCount: layers.count, target: layers[index].target, node: node, weight: weight, data: data, started: started))
            }
        }
        return notes
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
