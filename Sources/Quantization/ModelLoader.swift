import ModelGraph
import ModelIO
import QuantCore
import Runtime

/// Loads a model folder (fp32 or compressed) ready to embed text with the bundled runtime.
public enum ModelLoader {
    /// An fp32 folder runs as is; a compressed folder runs with its quantized weights and
    /// its activation quantizers applied.
    public static func embeddingModel(folder: String, threads: Int = ProcessInfoCores.active) throws -> EmbeddingModel {
        guard CompressedModel.isCompressed(folder: folder) else {
            return EmbeddingModel(path: folder, embedder: try SentenceEmbedder(modelFolder: folder, threads: threads), tap: nil)
        }
        let compressed = try CompressedModel(folder: folder)
        let encodings = try Exporter.activationEncodings(from: compressed.activationEncodings)
        var tapEncodings = encodings
        let embedder = try SentenceEmbedder(modelFolder: folder) { model in
            let kernels = try IntegerKernelPlanner.plan(graph: model.graph, model: compressed, activationEncodings: encodings)
            tapEncodings = IntegerKernelPlanner.tapEncodings(encodings, plan: kernels)
            return GraphExecutor(graph: model.graph, threads: threads, quantizedLinears: kernels.linears)
        }
        return EmbeddingModel(path: folder, embedder: embedder,
                              tap: tapEncodings.isEmpty ? nil : ActivationQuantizationTap(encodings: tapEncodings, threads: threads))
    }

    /// What a report should say about a compressed model (its precision choices).
    public static func notes(folder: String) throws -> [String] {
        guard CompressedModel.isCompressed(folder: folder) else { return [] }
        let compressed = try CompressedModel(folder: folder)
        let encodings = try Exporter.activationEncodings(from: compressed.activationEncodings)
        var notes: [String] = []
        let widths = Dictionary(grouping: compressed.bits, by: \.value).mapValues(\.count)
        notes.append("quantized weights: " + widths.keys.sorted().map { "\(widths[$0]!) at \($0) bits" }.joined(separator: ", "))
        let sixteen = encodings.filter { $0.value.scheme.bits == 16 }.map(\.key).sorted()
        if !encodings.isEmpty {
            notes.append("\(encodings.count) activation quantizers" + (sixteen.isEmpty ? "" : "; at 16 bits: \(sixteen.joined(separator: ", "))"))
        }
        return notes
    }
}
