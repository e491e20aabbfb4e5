import ModelGraph
import QuantCore

/// Turns sentences into embedding vectors with a Hugging Face sentence-transformers model
/// folder: WordPiece tokenisation, the encoder graph, masked mean pooling, normalisation.
public struct SentenceEmbedder: Sendable {
    /// The loaded model (configuration, pooling, graph).
    public let model: HuggingFaceModel
    /// The model's tokenizer.
    public let tokenizer: WordPieceTokenizer
    /// Inputs are truncated to this many tokens, [CLS] and [SEP] included.
    public let maximumLength: Int
    /// The executor running the graph.
    public let executor: GraphExecutor

    /// Embeddings of a list of inputs, in input order.
    public struct Result: Sendable {
        /// One vector per input.
        public var embeddings: [[Float]]
        /// Indices of inputs that were longer than `maximumLength` tokens and were cut.
        public var truncatedInputs: [Int]
    }

    /// Loads the model folder at `path` and runs its graph in fp32.
    public init(modelFolder path: String, threads: Int = ProcessInfoCores.active) throws {
        try self.init(modelFolder: path) { model in GraphExecutor(graph: model.graph, threads: threads) }
    }

    /// Loads the model folder at `path` and runs it on the executor `prepare` builds from
    /// the loaded model (a rewritten graph, integer kernels), so weights are packed once.
    public init(modelFolder path: String, prepare: (HuggingFaceModel) throws -> GraphExecutor) throws {
        let model = try HuggingFaceModel(path: path)
        let tokenizer = try WordPieceTokenizer(modelFolder: path)
        let maximumLength = min(try WordPieceTokenizer.maximumSequenceLength(modelFolder: path),
                                model.configuration.maximumPositions)
        self.init(model: model, tokenizer: tokenizer, maximumLength: maximumLength, executor: try prepare(model))
    }

    /// Assembles an embedder from parts (e.g. a rewritten graph in `executor`).
    public init(model: HuggingFaceModel, tokenizer: WordPieceTokenizer, maximumLength: Int, executor: GraphExecutor) {
        self.model = model
        self.tokenizer = tokenizer
        self.maximumLength = maximumLength
        self.executor = executor
    }

    /// Embeds `texts` in batches of up to `batchSize`. Inputs are grouped by length to keep
    /// padding small; padding never reaches the pooling, so each vector is independent of
    /// the batch it ran in.
    public func embed(_ texts: [String], batchSize: Int = 32, tap: ActivationTap? = nil) throws -> Result {
        let encodings = texts.map { tokenizer.encode($0, maxLength: maximumLength) }
        let order = encodings.indices.sorted { encodings[$0].count > encodings[$1].count || (encodings[$0].count == encodings[$1].count && $0 < $1) }
        var embeddings = [[Float]](repeating: [], count: texts.count)
        let size = max(1, batchSize)
        for start in stride(from: 0, to: order.count, by: size) {
            let members = Array(order[start..<min(order.count, start + size)])
            let inputs = Self.graphInputs(for: members.map { encodings[$0] }, paddingID: tokenizer.paddingID)
            let output = try executor.run(inputs: inputs, tap: tap)[0]
            let width = output.shape.last ?? 0
            for (row, index) in members.enumerated() {
                embeddings[index] = Array(output.scalars[row * width..<(row + 1) * width])
            }
        }
        return Result(embeddings: embeddings, truncatedInputs: encodings.indices.filter { encodings[$0].wasTruncated })
    }

    /// The graph inputs (`input_ids`, `token_type_ids`, `position_ids`, `attention_mask`)
    /// for a batch of encodings, padded to the longest.
    public static func graphInputs(for encodings: [TokenEncoding], paddingID: Int) -> [String: Tensor] {
        let batch = encodings.count
        let sequence = encodings.map(\.count).max() ?? 0
        var ids = [Float](repeating: Float(paddingID), count: batch * sequence)
        var mask = [Float](repeating: 0, count: batch * sequence)
        var positions = [Float](repeating: 0, count: batch * sequence)
        for (row, encoding) in encodings.enumerated() {
            for (column, id) in encoding.ids.enumerated() {
                ids[row * sequence + column] = Float(id)
                mask[row * sequence + column] = Float(encoding.attentionMask[column])
            }
            for column in 0..<sequence { positions[row * sequence + column] = Float(column) }
        }
        let shape = [batch, sequence]
        return [
            "input_ids": Tensor(shape: shape, scalars: ids),
            "token_type_ids": Tensor(zeros: shape),
            "position_ids": Tensor(shape: shape, scalars: positions),
            "attention_mask": Tensor(shape: shape, scalars: mask),
        ]
    }
}
