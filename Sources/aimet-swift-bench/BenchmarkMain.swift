import AimetSwift
import Foundation

/// `make bench`: times the fp32 runtime on MiniLM at fixed shapes and writes
/// Reports/bench-fp32.json and .md, with the peers' numbers (measured by
/// Tools/bench_peers.py in the same `make bench` run) and the ratios against them.
@main
struct BenchmarkMain {
    static func main() throws {
        let options = try BenchmarkOptions(arguments: Array(CommandLine.arguments.dropFirst()))
        let embedder = try SentenceEmbedder(modelFolder: options.model, threads: options.threads)
        var results: [BenchmarkResult] = []
        for shape in options.shapes {
            let inputs = SentenceEmbedder.graphInputs(
                for: shape.syntheticEncodings(vocabularySize: embedder.model.configuration.vocabularySize),
                paddingID: embedder.tokenizer.paddingID)
            let timings = try BenchmarkTimer.measure(warmup: options.warmup, iterations: options.iterations(for: shape)) {
                _ = try embedder.executor.run(inputs: inputs)
            }
            if ProcessInfo.processInfo.environment["AIMET_SWIFT_PROFILE_OPS"] == "1" {
                let profiler = OperationProfiler()
                for _ in 0..<options.iterations(for: shape) {
                    profiler.reset()
                    _ = try embedder.executor.run(inputs: inputs, tap: profiler)
                }
                FileHandle.standardError.write(Data("time by op at \(shape.label):\n\(profiler.summary())\n".utf8))
            }
            let result = BenchmarkResult(engine: "aimet-swift fp32", shape: shape, seconds: timings)
            FileHandle.standardError.write(Data("\(result.summaryLine)\n".utf8))
            results.append(result)
        }
        let peers = try options.peersFile.map { try BenchmarkResult.loadPeers(path: $0) } ?? []
        let report = BenchmarkReport(results: results + peers, threads: options.threads, model: options.model)
        try report.write(toFolder: options.reportFolder, name: "bench-fp32")
        print(report.markdown)
    }
}
