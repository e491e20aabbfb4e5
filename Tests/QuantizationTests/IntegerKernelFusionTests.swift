import Foundation
import ModelGraph
import ModelIO
import Quantization
import QuantCore
import Runtime
import Testing

/// Applies activation encodings with the plain `Quantizer.fakeQuantize`.
final class ReferenceQuantizationTap: ActivationTap {
    let encodings: [String: Encoding]
    init(encodings: [String: Encoding]) { self.encodings = encodings }
    func nodeDidRun(_ node: Node, output: inout Tensor) {
        if let encoding = encodings[node.name] { output = try! Quantizer.fakeQuantize(output, with: encoding) }
    }
}

/// The W8A8 model with its output quantizers applied inside the integer kernel (and left out
/// of the tap, the rest applied by the vectorised tap) against the same kernels with every
/// quantizer applied afterwards by the plain `Quantizer.fakeQuantize`: the same bits.
@Suite struct IntegerKernelFusionTests {
    @Test func fusedOutputQuantizersGiveTheUnfusedModelBitForBit() throws {
        let recipe = try PipelinePaths.recipe(bits: 8, granularity: .perChannel(axis: 0), activations: .int8)
        let (_, folder) = try PipelinePaths.export(recipe, prompts: 4)
        let fused = try ModelLoader.embeddingModel(folder: folder, threads: 2)

        let compressed = try CompressedModel(folder: folder)
        let encodings = try Exporter.activationEncodings(from: compressed.activationEncodings)
        let graph = fused.embedder.model.graph
        let plan = try IntegerKernelPlanner.plan(graph: graph, model: compressed, activationEncodings: encodings)
        #expect(!plan.fusedOutputEncodings.isEmpty, "some W8A8 layer should carry an output quantizer")
        #expect(Set(IntegerKernelPlanner.tapEncodings(encodings, plan: plan).keys) == Set(encodings.keys).subtracting(plan.fusedOutputEncodings))
        var unfusedLinears: [String: QuantizedLinear] = [:]
        for (name, kernel) in plan.linears {
            if case let .integer(matrix, scale, zeroPoint, _) = kernel {
                unfusedLinears[name] = .integer(matrix, activationScale: scale, zeroPoint: zeroPoint)
            } else {
                unfusedLinears[name] = kernel
            }
        }
        let unfused = SentenceEmbedder(model: fused.embedder.model, tokenizer: fused.embedder.tokenizer,
                                       maximumLength: fused.embedder.maximumLength,
                                       executor: GraphExecutor(graph: graph, threads: 1, quantizedLinears: unfusedLinears))
        let texts = try PipelinePaths.heldout(6)
        let expected = try unfused.embed(texts, batchSize: 3, tap: ReferenceQuantizationTap(encodings: encodings)).embeddings
        let actual = try fused.embed(texts, batchSize: 3)
        #expect(actual.map { $0.map(\.bitPattern) } == expected.map { $0.map(\.bitPattern) })
    }
}
