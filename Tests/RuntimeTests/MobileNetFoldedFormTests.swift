import Foundation
import ModelGraph
import ModelIO
import QuantCore
import Runtime
import Testing

@Suite("Built-in CNNs from batch-norm-folded checkpoints", .serialized)
struct MobileNetFoldedFormTests {
    /// Folds every batch norm into the convolution before it, as a BN-folding export would:
    /// `W' = W · s`, `b' = b · s + β − μ · s` with `s = γ / sqrt(σ² + ε)` (computed in Double),
    /// and writes the state dict (PyTorch layouts and names) as safetensors.
    static func foldedCheckpoint(_ graph: Graph, store: any WeightStore, epsilon: Double, to path: String) throws {
        var tensors: [RawTensor] = []
        var folded = Set<String>()
        for node in graph.nodes {
            guard case .batchNorm = node.op, let convolution = graph.producer(of: node.inputs[0]),
                  case .conv2d = convolution.op, let weightName = convolution.parameterSources["weight"] else { continue }
            func stored(_ role: String) throws -> [Double] {
                try store.floatTensor(named: node.parameterSources[role]!).scalars.map(Double.init)
            }
            let (gamma, beta, mean, variance) = (try stored("weight"), try stored("bias"), try stored("mean"), try stored("variance"))
            let weight = try store.floatTensor(named: weightName)
            let perOutput = weight.count / gamma.count
            var scaled = weight.scalars
            var bias = [Float](repeating: 0, count: gamma.count)
            for output in gamma.indices {
                let scale = gamma[output] / (variance[output] + epsilon).squareRoot()
                for index in (output * perOutput)..<((output + 1) * perOutput) { scaled[index] = Float(Double(scaled[index]) * scale) }
                bias[output] = Float(beta[output] - mean[output] * scale)
            }
            let prefix = String(weightName.dropLast(".weight".count))
            tensors.append(RawTensor(name: weightName, tensor: Tensor(shape: weight.shape, scalars: scaled)))
            tensors.append(RawTensor(name: prefix + ".bias", tensor: Tensor(shape: [gamma.count], scalars: bias)))
            folded.insert(weightName)
            for source in node.parameterSources.values { folded.insert(source) }
        }
        for info in store.tensors where !folded.contains(info.name) && !info.name.hasSuffix("num_batches_tracked") {
            tensors.append(RawTensor(name: info.name, tensor: try store.floatTensor(named: info.name)))
        }
        try SafetensorsWriter.write(tensors, metadata: [:], to: path)
    }

    @Test(arguments: [(BuiltInArchitecture.mobileNetV2, 1e-5), (BuiltInArchitecture.efficientNetLite0, 1e-3)])
    func foldedCheckpointGivesTheSameLogits(_ architecture: BuiltInArchitecture, epsilon: Double) throws {
        let store = try WeightStores.open(CNNGoldens.checkpoint(architecture))
        let graph = try architecture.buildGraph(store: store)
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("aimet-swift-folded-\(architecture.rawValue)-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.foldedCheckpoint(graph, store: store, epsilon: epsilon, to: path)

        let foldedGraph = try architecture.loadGraph(path: path)
        #expect(!foldedGraph.nodes.contains { if case .batchNorm = $0.op { return true } else { return false } })
        #expect(foldedGraph.nodes.count == graph.nodes.count - (architecture == .mobileNetV2 ? 52 : 49))
        let input = CNNGoldens.input(batch: 2)
        let reference = try CNNGoldens.run(graph, input: input).flatMap { $0 }
        let produced = try CNNGoldens.run(foldedGraph, input: input).flatMap { $0 }
        let largest = reference.map(abs).max() ?? 0
        let difference = zip(reference, produced).map { abs($0 - $1) }.max() ?? .infinity
        #expect(largest > 1)
        #expect(difference / largest <= 1e-4, "\(architecture.rawValue): max |Δ| / max |y| = \(difference / largest)")
    }
}
