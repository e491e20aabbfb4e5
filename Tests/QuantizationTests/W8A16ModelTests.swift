import Foundation
import ModelGraph
import ModelIO
import Quantization
import QuantCore
import Runtime
import Testing

/// The W8A16 kernel in the compressed MiniLM: the default W8A8 recipe moves a few activation
/// quantizers to 16 bits, and the linear layers reading them now run the integer W8A16 kernel
/// instead of the weight-only one, within QuantSim's fidelity tolerance.
@Suite struct W8A16ModelTests {
    /// One real layer, its input on a 16-bit grid, against the QuantSim form of the layer
    /// (fake-quantized weights, fp32 arithmetic).
    @Test(arguments: [(1, Symmetry.asymmetric), (50, .asymmetric), (130, .symmetric)])
    func realLayerMatchesFakeQuantizedLayer(rows: Int, symmetry: Symmetry) throws {
        let model = try HuggingFaceModel(path: PipelinePaths.miniLMFolder)
        let node = model.graph.node(named: "encoder.layer.0.intermediate.dense")!
        let weight = node.parameters["weight"]!, bias = node.parameters["bias"]!
        let columns = weight.shape[0], depth = weight.shape[1]
        let scheme = try QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perChannel(axis: 0))
        let encoding = try RangeEstimator.minMax.encoding(of: weight, scheme: scheme, tensorName: "w")
        let record = try Exporter.record(for: weight, named: "w", encoding: encoding)
        let matrix = try PackedW8A16Matrix(weight: record.values.map { Int8($0) }, scales: record.scales, columns: columns, depth: depth)
        let inputScheme = try QuantScheme(bits: 16, symmetry: symmetry, granularity: .perTensor)
        let inputEncoding = try Encoding(scheme: inputScheme, scaleShape: [], scales: [0.00023],
                                         zeroPoints: [symmetry == .symmetric ? 0 : 29_000])
        var generator = SeededGenerator(seed: UInt64(rows))
        let input = (0..<rows * depth).map { _ in Float.random(in: -6...6, using: &generator) }
        let grid = try SixteenBitInputGrid(scale: 0.00023, zeroPoint: inputEncoding.zeroPoints[0], range: inputScheme.quantizedRange)
        let onGrid = try Quantizer.fakeQuantize(Tensor(shape: [rows, depth], scalars: input), with: inputEncoding)
        let fakeWeight = try Quantizer.fakeQuantize(weight, with: encoding, tensorName: "w")
        let expected = LinearKernel.reference(input: onGrid.scalars, rows: rows, inputs: depth, weight: fakeWeight.scalars,
                                              bias: bias.scalars, outputs: columns)
        var output = [Float](repeating: .nan, count: rows * columns)
        input.withUnsafeBufferPointer { input in
            bias.scalars.withUnsafeBufferPointer { bias in
                output.withUnsafeMutableBufferPointer { output in
                    QuantizedLinearKernel.applyW8A16(floatInput: input.baseAddress!, rows: rows, inputGrid: grid, weight: matrix,
                                                     bias: bias.baseAddress!, outputGrid: nil, output: output.baseAddress!, threads: 2)
                }
            }
        }
        let difference = zip(expected, output).map { abs($0 - $1) }.max() ?? .infinity
        #expect(difference <= 1e-4, "max abs difference \(difference)")
    }

    /// The default W8A8 recipe (`calibrate --weights int8 --activations int8 --granularity
    /// per-channel`): 16-bit-input layers on W8A16, the rest on W8A8, and the model within the
    /// tolerance `QuantizationPipelineTests` holds W8A8 models to against QuantSim.
    @Test func defaultW8A8ModelRunsItsSixteenBitInputsOnTheW8A16Kernel() throws {
        let recipe = try PipelinePaths.recipe(bits: 8, granularity: .perChannel(axis: 0), activations: .int8)
        let (calibration, folder) = try PipelinePaths.export(recipe, prompts: 24)
        let compressed = try ModelLoader.embeddingModel(folder: folder)
        let kernels = compressed.embedder.executor.quantizedLinears
        #expect(kernels.count == 36)
        let reference = try SentenceEmbedder(modelFolder: PipelinePaths.miniLMFolder)
        let graph = reference.model.graph
        var sixteenBitInputs = 0
        for node in graph.nodes where node.op == .linear {
            let inputBits = graph.producer(of: node.inputs[0]).flatMap { calibration.activationEncodings[$0.name] }?.scheme.bits
            if inputBits == 16 { sixteenBitInputs += 1 }
            let kernel = kernels[node.name]?.kernelName
            #expect(kernel == (inputBits == 16 ? "w8a16" : "w8a8"), "\(node.name): \(kernel ?? "fp32"), input bits \(inputBits ?? 0)")
        }
        #expect(sixteenBitInputs > 0, "the default recipe moves some linear inputs to 16 bits")

        let texts = try PipelinePaths.heldout(12)
        let simulated = try QuantizationSimulator.applyingWeightEncodings(calibration.weightEncodings, to: graph)
        let simulator = SentenceEmbedder(model: reference.model, tokenizer: reference.tokenizer, maximumLength: reference.maximumLength,
                                         executor: GraphExecutor(graph: simulated))
        let expected = try simulator.embed(texts, tap: ActivationQuantizationTap(encodings: calibration.activationEncodings)).embeddings
        let actual = try compressed.embed(texts)
        let similarities = try zip(expected, actual).map { try QuantizationMetrics.cosineSimilarity($0, $1) }
        let mean = similarities.reduce(0, +) / Double(similarities.count)
        #expect(mean >= 0.995 && similarities.min()! >= 0.98, "cosines \(similarities)")
    }
}
