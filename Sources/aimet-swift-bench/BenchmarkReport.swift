import AimetSwift
import Foundation

/// One engine's timings at one shape.
struct BenchmarkResult {
    let engine: String
    let shape: BenchmarkShape
    let seconds: [Double]

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

    /// Reads the peers' JSON written by Tools/bench_peers.py:
    /// `{"results": [{"engine", "batch", "sequence", "seconds": [...]}], ...}`.
    static func loadPeers(path: String) throws -> [BenchmarkResult] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let json = try JSONParser.parse(Array(data), path: path)
        guard let results = json["results"]?.arrayValue else { throw BenchmarkError.invalidPeers("no 'results' array") }
        return try results.map { entry in
            guard let engine = entry["engine"]?.stringValue, let batch = entry["batch"]?.intValue,
                  let sequence = entry["sequence"]?.intValue,
                  let seconds = entry["seconds"]?.arrayValue?.compactMap(\.doubleValue), !seconds.isEmpty else {
                throw BenchmarkError.invalidPeers("an entry lacks engine, batch, sequence or seconds")
            }
            return BenchmarkResult(engine: engine, shape: BenchmarkShape(batch: batch, sequence: sequence), seconds: seconds)
        }
    }
}

/// The fp32 benchmark report: medians per engine and shape, and ratios against the peers.
struct BenchmarkReport {
    let results: [BenchmarkResult]
    let threads: Int
    let model: String
    let ours = "aimet-swift fp32"

    /// Peer median ÷ our median: above 1 means aimet-swift is faster.
    func speedup(against peer: String, shape: BenchmarkShape) -> Double? {
        guard let mine = results.first(where: { $0.engine == ours && $0.shape == shape }),
              let theirs = results.first(where: { $0.engine == peer && $0.shape == shape }) else { return nil }
        return theirs.median / mine.median
    }

    var peers: [String] {
        var names: [String] = []
        for result in results where result.engine != ours && !names.contains(result.engine) { names.append(result.engine) }
        return names
    }

    var json: JSONValue {
        var ratios: [(String, JSONValue)] = []
        for peer in peers {
            for shape in BenchmarkShape.standard {
                if let ratio = speedup(against: peer, shape: shape) {
                    ratios.append(("\(peer) \(shape.label)", .double((ratio * 1000).rounded() / 1000)))
                }
            }
        }
        return .object(JSONObject([
            ("schema", .string("aimet-swift.bench-fp32/1")),
            ("model", .string(URL(fileURLWithPath: model).lastPathComponent)),
            ("threads", .integer(threads)),
            ("results", .array(results.map(\.json))),
            ("speedup_vs_peer", .object(JSONObject(ratios))),
        ]))
    }

    var markdown: String {
        var lines = ["# fp32 runtime benchmark: all-MiniLM-L6-v2", "",
                     "Median wall-clock time per forward pass (tokenisation excluded), \(threads) thread(s), all engines measured in the same `make bench` run.", "",
                     "| engine | shape (batch x tokens) | median ms | inputs/s | runs |", "|---|---|---:|---:|---:|"]
        for result in results {
            lines.append("| \(result.engine) | \(result.shape.label) | \(String(format: "%.2f", result.median * 1000)) | \(String(format: "%.1f", result.throughput)) | \(result.seconds.count) |")
        }
        if !peers.isEmpty {
            lines += ["", "Speed-up of aimet-swift against each peer (peer median ÷ aimet-swift median; > 1 = aimet-swift faster):", "",
                      "| peer | " + BenchmarkShape.standard.map(\.label).joined(separator: " | ") + " |",
                      "|---|" + BenchmarkShape.standard.map { _ in "---:" }.joined(separator: "|") + "|"]
            for peer in peers {
                let cells = BenchmarkShape.standard.map { shape in speedup(against: peer, shape: shape).map { String(format: "%.2fx", $0) } ?? "n/a" }
                lines.append("| \(peer) | " + cells.joined(separator: " | ") + " |")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func write(toFolder folder: String, name: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try TextFile.write(JSONWriter(sortedKeys: true, indent: 2).string(json) + "\n", toPath: folder + "/\(name).json")
        try TextFile.write(markdown, toPath: folder + "/\(name).md")
    }
}
