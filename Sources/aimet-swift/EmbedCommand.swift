import AimetSwift
import ArgumentParser

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed sentences with a sentence-transformers model folder (fp32 runtime).",
        discussion: """
        Input lines are taken verbatim (blank lines are inputs too). Output is JSONL in input \
        order: {"text": <the line>, "embedding": [...]}. Inputs longer than the model's \
        max_seq_length are truncated, and the command says how many were.
        """
    )

    @Option(name: .long, help: "A Hugging Face model folder (config.json, model.safetensors, tokenizer), or a compressed model folder written by `export`.")
    var model: String

    @Option(name: .long, help: "A sentence to embed (repeatable).")
    var text: [String] = []

    @Option(name: .long, help: "A UTF-8 file with one input per line.")
    var input: String?

    @Option(name: .long, help: "Write JSONL here instead of standard output.")
    var output: String?

    @Option(name: .long, help: "Inputs per batch.")
    var batchSize = 32

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int?

    @Flag(name: .long, help: "Print the cosine similarity matrix of the inputs instead of the vectors.")
    var similarity = false

    func validate() throws {
        guard text.isEmpty != (input == nil) else {
            throw ValidationError("give the inputs either with --text (repeatable) or with --input FILE, not both")
        }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        let texts = try input.map { try TextFile.lines(atPath: $0) } ?? text
        guard !texts.isEmpty else { throw ValidationError("\(input ?? "--text"): no inputs to embed") }
        // A compressed folder runs on the integer kernels with its activation quantizers.
        let loaded = try ModelLoader.embeddingModel(folder: model, threads: threads ?? ProcessInfoCores.active)
        let embedder = loaded.embedder
        let result = try embedder.embed(texts, batchSize: batchSize, tap: loaded.tap)
        if !result.truncatedInputs.isEmpty {
            printError("note: \(result.truncatedInputs.count) input(s) were longer than \(embedder.maximumLength) tokens and were truncated (lines \(result.truncatedInputs.prefix(10).map { String($0 + 1) }.joined(separator: ", "))\(result.truncatedInputs.count > 10 ? ", ..." : ""))")
        }
        if similarity {
            print(SimilarityText.render(texts: texts, embeddings: result.embeddings))
            return
        }
        var lines = ""
        for (index, embedding) in result.embeddings.enumerated() {
            let record = JSONValue.object(JSONObject([
                ("text", .string(texts[index])),
                ("embedding", .array(embedding.map { .number("\($0)") })),
            ]))
            lines += JSONWriter(sortedKeys: false).string(record) + "\n"
        }
        if let output {
            try TextFile.write(lines, toPath: output)
        } else {
            print(lines, terminator: "")
        }
    }
}

/// A cosine-similarity matrix as aligned text.
enum SimilarityText {
    static func render(texts: [String], embeddings: [[Float]]) -> String {
        let labels = texts.enumerated().map { "[\($0.offset + 1)] " + ($0.element.count > 60 ? String($0.element.prefix(57)) + "..." : $0.element) }
        var lines = labels
        lines.append("")
        let header = "     " + (1...texts.count).map { pad("[\($0)]", 7) }.joined()
        lines.append(header)
        for (row, left) in embeddings.enumerated() {
            var line = pad("[\(row + 1)]", 5)
            for right in embeddings {
                var dot: Float = 0, leftNorm: Float = 0, rightNorm: Float = 0
                for (a, b) in zip(left, right) {
                    dot += a * b
                    leftNorm += a * a
                    rightNorm += b * b
                }
                let cosine = dot / max((leftNorm * rightNorm).squareRoot(), 1e-12)
                line += pad(String(format3(cosine)), 7)
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    private static func format3(_ value: Float) -> String {
        let scaled = Int((value * 1000).rounded())
        let sign = scaled < 0 ? "-" : ""
        let magnitude = abs(scaled)
        let fraction = String(magnitude % 1000)
        return "\(sign)\(magnitude / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}
