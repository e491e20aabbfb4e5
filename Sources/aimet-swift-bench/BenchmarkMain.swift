import AimetSwift
import Foundation

/// `make bench`: times the aimet-swift runtime on MiniLM, fp32 and compressed models (W8A8,
/// weight-only), beside onnxruntime (fp32 and dynamic int8) and torch driven through
/// Tools/bench_peers.py, all interleaved in rounds, and writes Reports/<name>.json and .md
/// with the medians and the speed ratios.
@main
struct BenchmarkMain {
    /// One aimet-swift model ready to run.
    struct Engine {
        let name: String
        let model: EmbeddingModel
    }

    static func main() throws {
        let options = try BenchmarkOptions(arguments: Array(CommandLine.arguments.dropFirst()))
        var engines = [Engine(name: "aimet-swift fp32",
                              model: try ModelLoader.embeddingModel(folder: options.model, threads: options.threads))]
        var kernelNotes: [String: String] = [:]
        for candidate in options.candidates {
            let name = "aimet-swift \(candidate.label)"
            let model = try ModelLoader.embeddingModel(folder: candidate.folder, threads: options.threads)
            engines.append(Engine(name: name, model: model))
            kernelNotes[name] = describeKernels(of: model)
        }
        let peers = try options.peersPython.map {
            try PeerEngines(python: $0, script: options.peersScript, model: options.model, threads: options.threads)
        }
        var results: [BenchmarkResult] = []
        func record(_ engine: String, _ shape: BenchmarkShape, _ seconds: [Double]) {
            if let index = results.firstIndex(where: { $0.engine == engine && $0.shape == shape }) {
                results[index].seconds += seconds
            } else {
                results.append(BenchmarkResult(engine: engine, shape: shape, seconds: seconds))
            }
        }
        let inputs = Dictionary(uniqueKeysWithValues: options.shapes.map { shape in
            (shape, SentenceEmbedder.graphInputs(
                for: shape.syntheticEncodings(vocabularySize: engines[0].model.embedder.model.configuration.vocabularySize),
                paddingID: engines[0].model.embedder.tokenizer.paddingID))
        })
        for round in 0..<options.rounds {
            for shape in options.shapes {
                let warmup = round == 0 ? options.warmup : 0
                for engine in engines {
                    let executor = engine.model.embedder.executor, tap = engine.model.tap, feeds = inputs[shape]!
                    record(engine.name, shape, try BenchmarkTimer.measure(warmup: warmup, iterations: options.iterations(for: shape)) {
                        _ = try executor.run(inputs: feeds, tap: tap)
                    })
                }
                if let peers {
                    for (engine, seconds) in try peers.measure(shape: shape, iterations: options.iterations(for: shape), warmup: warmup) {
                        record(engine, shape, seconds)
                    }
                }
            }
            FileHandle.standardError.write(Data("round \(round + 1) of \(options.rounds) done\n".utf8))
        }
        peers?.finish()
        if ProcessInfo.processInfo.environment["AIMET_SWIFT_PROFILE_OPS"] == "1" {
            for engine in engines { try profile(engine, inputs: inputs, options: options) }
        }
        for result in results { FileHandle.standardError.write(Data("\(result.summaryLine)\n".utf8)) }
        let report = BenchmarkReport(results: results, shapes: options.shapes, ours: engines.map(\.name),
                                     peers: peers?.engines ?? [], threads: options.threads, rounds: options.rounds,
                                     model: options.model, versions: peers?.versions ?? [], kernelNotes: kernelNotes)
        try report.write(toFolder: options.reportFolder, name: options.reportName)
        print(report.markdown)
    }

    /// Time by op kind (and in the model's activation-quantizer tap) at every shape.
    static func profile(_ engine: Engine, inputs: [BenchmarkShape: [String: Tensor]], options: BenchmarkOptions) throws {
        for shape in options.shapes {
            let profiler = OperationProfiler(inner: engine.model.tap, kernels: engine.model.embedder.executor.quantizedLinears)
            for _ in 0..<options.iterations(for: shape) {
                profiler.reset()
                _ = try engine.model.embedder.executor.run(inputs: inputs[shape]!, tap: profiler)
            }
            FileHandle.standardError.write(Data("\(engine.name): time by op at \(shape.label):\n\(profiler.summary())\n".utf8))
        }
    }

    /// "36 w8a8, 3 w8 weight-only, 0 fp32" style summary of a compressed model's linears.
    static func describeKernels(of model: EmbeddingModel) -> String {
        let executor = model.embedder.executor
        let linears = executor.graph.nodes.filter { $0.op == .linear }
        var counts: [String: Int] = [:]
        for node in linears { counts[executor.quantizedLinears[node.name]?.kernelName ?? "fp32", default: 0] += 1 }
        return counts.sorted { $0.key < $1.key }.map { "\($0.value) linear layers on \($0.key)" }.joined(separator: ", ")
    }
}
