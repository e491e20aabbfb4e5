import Foundation
import ModelGraph
import ModelIO
import QuantCore
import Runtime
import Testing

/// Counts nodes and can replace one node's output, to test the activation-tap contract.
final class RecordingTap: ActivationTap {
    var visited: [String] = []
    var replace: String?

    func nodeDidRun(_ node: Node, output: inout Tensor) {
        visited.append(node.name)
        if node.name == replace {
            output = Tensor(zeros: output.shape)
        }
    }
}

@Suite struct GraphExecutorTests {
    static let embedder = Result { try SentenceEmbedder(modelFolder: TokenizerTestPaths.miniLMFolder) }

    @Test func tapObservesEveryNodeInOrder() throws {
        let embedder = try Self.embedder.get()
        let tap = RecordingTap()
        _ = try embedder.embed(["Observe every node."], tap: tap)
        #expect(tap.visited == embedder.model.graph.nodes.map(\.name))
    }

    @Test func tapCanReplaceAnOutputAndChangesFlowDownstream() throws {
        let embedder = try Self.embedder.get()
        let plain = try embedder.embed(["Replace one activation."]).embeddings[0]
        let tap = RecordingTap()
        tap.replace = "encoder.layer.5.output.dense"
        let changed = try embedder.embed(["Replace one activation."], tap: tap).embeddings[0]
        #expect(plain != changed)
        tap.replace = "pooling"
        let zeroed = try embedder.embed(["Replace one activation."], tap: tap).embeddings[0]
        #expect(zeroed.allSatisfy { $0 == 0 }, "a zero pooled vector normalises to zero (norm floor 1e-12)")
    }

    @Test func resultsAreIdenticalForAnyThreadCount() throws {
        let model = try HuggingFaceModel(path: TokenizerTestPaths.miniLMFolder)
        let tokenizer = try WordPieceTokenizer(modelFolder: TokenizerTestPaths.miniLMFolder)
        let texts = ["One sentence of moderate length for the thread test.", "Two.", String(repeating: "long ", count: 80)]
        var reference: [[Float]]?
        for threads in [1, 2, 3] {
            let embedder = SentenceEmbedder(model: model, tokenizer: tokenizer, maximumLength: 256,
                                            executor: GraphExecutor(graph: model.graph, threads: threads))
            let vectors = try embedder.embed(texts, batchSize: 3).embeddings
            if let reference {
                #expect(vectors == reference, "threads \(threads) changed the bits of the result")
            } else {
                reference = vectors
            }
        }
    }

    @Test func missingInputIsNamed() throws {
        let embedder = try Self.embedder.get()
        #expect(throws: RuntimeError.missingInput(name: "input_ids")) {
            try embedder.executor.run(inputs: [:])
        }
    }

    @Test func tokenIDOutsideTheVocabularyIsAnError() throws {
        let embedder = try Self.embedder.get()
        var inputs = SentenceEmbedder.graphInputs(
            for: [TokenEncoding(ids: [101, 40000, 102], tokens: [], attentionMask: [1, 1, 1], wasTruncated: false)],
            paddingID: 0)
        #expect(throws: RuntimeError.indexOutOfRange(node: "embeddings.word_embeddings", index: 40000, rows: 30522)) {
            try embedder.executor.run(inputs: inputs)
        }
        inputs["attention_mask"] = Tensor(zeros: [2, 2])
        #expect(throws: RuntimeError.self) { try embedder.executor.run(inputs: inputs) }
    }

    @Test func modelFolderWithoutTokenizerNamesTheMissingFile() throws {
        let folder = try TokenizerTestPaths.temporaryFolder()
        for name in ["config.json", "model.safetensors"] {
            try FileManager.default.createSymbolicLink(atPath: folder + "/" + name,
                                                       withDestinationPath: TokenizerTestPaths.miniLMFolder + "/" + name)
        }
        #expect {
            try SentenceEmbedder(modelFolder: folder)
        } throws: { error in
            "\(error)".contains(folder) && "\(error)".contains("tokenizer")
        }
    }
}
