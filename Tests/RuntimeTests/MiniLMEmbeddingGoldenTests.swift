import AimetTestSupport
import Foundation
import ModelIO
import Runtime
import Testing

/// The golden embeddings made by `Tools/goldens/minilm_embeddings.py` (sentence-transformers).
struct EmbeddingGoldens {
    let texts: [String]
    let embeddings: [[Float]]

    static func load() throws -> EmbeddingGoldens {
        let folder = TestLocations.fixtures.appendingPathComponent("embeddings")
        let manifest = try JSONParser.parse(Array(try Data(contentsOf: folder.appendingPathComponent("minilm-embeddings.json"))),
                                            path: "minilm-embeddings.json")
        let texts = manifest["texts"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let dimension = manifest["dimension"]?.intValue ?? 0
        let data = try Data(contentsOf: folder.appendingPathComponent("minilm-embeddings.f32"))
        let values = data.withUnsafeBytes { buffer in
            (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        precondition(values.count == texts.count * dimension, "golden embeddings and texts disagree")
        return EmbeddingGoldens(texts: texts, embeddings: (0..<texts.count).map { Array(values[$0 * dimension..<($0 + 1) * dimension]) })
    }
}

func cosine(_ left: [Float], _ right: [Float]) -> Double {
    var dot = 0.0, leftNorm = 0.0, rightNorm = 0.0
    for (a, b) in zip(left, right) {
        dot += Double(a) * Double(b)
        leftNorm += Double(a) * Double(a)
        rightNorm += Double(b) * Double(b)
    }
    return dot / max((leftNorm * rightNorm).squareRoot(), 1e-30)
}

@Suite("MiniLM embeddings against sentence-transformers", .serialized)
struct MiniLMEmbeddingGoldenTests {
    static let minimumCosine = 0.99999
    static let maximumAbsoluteDifference: Float = 1e-4

    static let embedder = Result { try SentenceEmbedder(modelFolder: TokenizerTestPaths.miniLMFolder) }

    func check(_ result: SentenceEmbedder.Result, _ goldens: EmbeddingGoldens, label: String) {
        var worstCosine = 1.0
        var worstDifference: Float = 0
        var worstText = ""
        for (index, golden) in goldens.embeddings.enumerated() {
            let produced = result.embeddings[index]
            let similarity = cosine(produced, golden)
            let difference = zip(produced, golden).map { abs($0 - $1) }.max() ?? .infinity
            if similarity < worstCosine || difference > worstDifference { worstText = goldens.texts[index] }
            worstCosine = min(worstCosine, similarity)
            worstDifference = max(worstDifference, difference)
        }
        #expect(worstCosine >= Self.minimumCosine, "\(label): worst cosine \(worstCosine) (input \(worstText.prefix(60).debugDescription))")
        #expect(worstDifference <= Self.maximumAbsoluteDifference, "\(label): max abs diff \(worstDifference)")
    }

    @Test func everyGoldenInputOneAtATime() throws {
        let goldens = try EmbeddingGoldens.load()
        #expect(goldens.texts.count >= 300)
        let result = try Self.embedder.get().embed(goldens.texts, batchSize: 1)
        check(result, goldens, label: "batch 1")
        #expect(!result.truncatedInputs.isEmpty, "the goldens include inputs longer than 256 tokens")
    }

    @Test func everyGoldenInputInMixedLengthBatches() throws {
        let goldens = try EmbeddingGoldens.load()
        let result = try Self.embedder.get().embed(goldens.texts, batchSize: 32)
        check(result, goldens, label: "batch 32")
    }

    @Test func batchCompositionDoesNotChangeAVector() throws {
        let embedder = try Self.embedder.get()
        let texts = ["A short one.", "A considerably longer sentence that needs many more word pieces to encode.", "Mid length text here."]
        let alone = try embedder.embed([texts[0]], batchSize: 1).embeddings[0]
        let together = try embedder.embed(texts, batchSize: 3).embeddings[0]
        #expect(zip(alone, together).map { abs($0 - $1) }.max()! <= 1e-5)
    }
}
