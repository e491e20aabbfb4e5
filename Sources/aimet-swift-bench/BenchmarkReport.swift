import AimetSwift
import Foundation

/// One engine's timings at one shape (all rounds together).
struct BenchmarkResult {
    let engine: String
    let shape: BenchmarkShape
    var seconds: [Double]

    var median: Double {
        let sorted = seconds.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Inputs per second at the median.
    var throughput: Double { Double(shape.batch) / median }

    var summaryLine: String {
        "\(engine) \(shape.label): median \(String(format: "%.2f", median * 1000)) ms over \(seconds.count) runs"
    }

    var json: JSONValue {
        .object(JSONObject([
            ("engine", .string(engine)),
            ("batch", .integer(shape.batch)),
            ("sequence", .integer(shape.sequence)),
            ("iterations", .integer(seconds.count)),
            ("median_ms", .double((median * 1e6).rounded() / 1e3)),
            ("min_ms", .double(((seconds.min() ?? 0) * 1e6).rounded() / 1e3)),
            ("throughput_per_s", .double((throughput * 100).rounded() / 100)),
        ]))
    }
}

/// The benchmark report: medians per engine and shape, and speed ratios of every aimet-swift
/// engine against the aimet-swift fp32 runtime and against every peer.
struct BenchmarkReport {
    let results: [BenchmarkResult]
    let shapes: [BenchmarkShape]
    /// aimet-swift engines, the fp32 baseline first.
    let ours: [String]
    let peers: [String]
    let threads: Int
    let rounds: Int
    let model: String
    let versions: [(String, String)]
    /// What each compressed candidate runs on (kernels per linear layer), by engine.
    let kernelNotes: [String: String]

    /// Baseline median ÷ engine median: above 1 means `engine` is faster (at batch 32 this is
    /// the throughput ratio, at batch 1 the latency ratio).
    func speedup(of engine: String, over baseline: String, shape: BenchmarkShape) -> Double? {
        guard engine != baseline,
              let mine = results.first(where: { $0.engine == engine && $0.shape == shape }),
              let theirs = results.first(where: { $0.engine == baseline && $0.shape == shape }) else { return nil }
        return theirs.median / mine.median
    }

    /// (engine, baseline) pairs reported: every aimet-swift engine over every other engine
    /// that is a baseline (our fp32 runtime and the peers).
    var comparisons: [(engine: String, baseline: String)] {
        let baselines = Array(ours.prefix(1)) + peers
        return ours.flatMap { engine in baselines.filter { $0 != engine }.map { (engine, $0) } }
    }

    var json: JSONValue {
        var ratios: [(String, JSONValue)] = []
        for (engine, baseline) in comparisons {
            for shape in shapes {
                if let ratio = speedup(of: engine, over: baseline, shape: shape) {
                    ratios.append(("\(engine) over \(baseline) \(shape.label)", .double((ratio * 1000).rounded() / 1000)))
                }
            }
        }
        return .object(JSONObject([
            ("schema", .string("aimet-swift.bench/2")),
            ("model", .string(URL(fileURLWithPath: model).lastPathComponent)),
            ("threads", .integer(threads)),
            ("rounds", .integer(rounds)),
            ("results", .array(results.map(\.json))),
            ("speedup", .object(JSONObject(ratios))),
            ("kernels", .object(JSONObject(kernelNotes.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))),
            ("versions", .object(JSONObject(versions.map { ($0.0, .string($0.1)) }))),
        ]))
    }

    var markdown: String {
        var lines = ["# Runtime benchmark: all-MiniLM-L6-v2, fp32 and compressed", "",
                     "Median wall-clock time per forward pass (tokenisation excluded), \(threads) thread(s). All engines ran in the same `make bench` process tree, interleaved in \(rounds) rounds (each round times every engine at every shape), so drifts of a shared machine hit all of them alike.", "",
                     "| engine | shape (batch x tokens) | median ms | inputs/s | runs |", "|---|---|---:|---:|---:|"]
        for result in results {
            lines.append("| \(result.engine) | \(result.shape.label) | \(String(format: "%.2f", result.median * 1000)) | \(String(format: "%.1f", result.throughput)) | \(result.seconds.count) |")
        }
        lines += ["", "Speed-up of each aimet-swift engine over a baseline (baseline median ÷ engine median; > 1 = the aimet-swift engine is faster; at 32x128 this is the throughput ratio, at batch 1 the latency ratio):", "",
                  "| engine | over | " + shapes.map(\.label).joined(separator: " | ") + " |",
                  "|---|---|" + shapes.map { _ in "---:" }.joined(separator: "|") + "|"]
        for (engine, baseline) in comparisons {
            let cells = shapes.map { shape in speedup(of: engine, over: baseline, shape: shape).map { String(format: "%.2fx", $0) } ?? "n/a" }
            lines.append("| \(engine) | \(baseline) | " + cells.joined(separator: " | ") + " |")
        }
        if !kernelNotes.isEmpty {
            lines += ["", "Kernels of the compressed models:", ""]
            for (engine, note) in kernelNotes.sorted(by: { $0.key < $1.key }) { lines.append("- \(engine): \(note)") }
        }
        if !versions.isEmpty {
            lines += ["", "Peer versions: " + versions.map { "\($0.0) \($0.1)" }.joined(separator: ", ")]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func write(toFolder folder: String, name: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try TextFile.write(JSONWriter(sortedKeys: true, indent: 2).string(json) + "\n", toPath: folder + "/\(name).json")
        try TextFile.write(markdown, toPath: folder + "/\(name).md")
    }
}
