import AimetSwift
import Foundation

/// Command-line options of the benchmark executable.
struct BenchmarkOptions {
    var model = ""
    var threads = ProcessInfoCores.active
    var warmup = 2
    var minimumIterations = 5
    var peersFile: String?
    var reportFolder = "Reports"
    var shapes = BenchmarkShape.standard

    init(arguments: [String]) throws {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            guard let value = iterator.next() else { throw BenchmarkError.usage("\(argument) needs a value") }
            switch argument {
            case "--model": model = value
            case "--threads": threads = Int(value) ?? threads
            case "--warmup": warmup = Int(value) ?? warmup
            case "--iterations": minimumIterations = Int(value) ?? minimumIterations
            case "--peers": peersFile = value
            case "--reports": reportFolder = value
            case "--shapes":
                shapes = try value.split(separator: ",").map { label in
                    let parts = label.split(separator: "x").compactMap { Int($0) }
                    guard parts.count == 2, parts[0] > 0, parts[1] >= 2 else { throw BenchmarkError.usage("bad shape '\(label)'") }
                    return BenchmarkShape(batch: parts[0], sequence: parts[1])
                }
            default: throw BenchmarkError.usage("unknown option \(argument)")
            }
        }
        guard !model.isEmpty else { throw BenchmarkError.usage("--model FOLDER is required") }
    }

    /// More iterations for the fast shapes so each shape runs for a comparable time.
    func iterations(for shape: BenchmarkShape) -> Int {
        shape.batch * shape.sequence <= 128 ? minimumIterations * 4 : minimumIterations
    }
}

enum BenchmarkError: Error, CustomStringConvertible {
    case usage(String)
    case invalidPeers(String)
    var description: String {
        switch self {
        case let .usage(message): return "usage: aimet-swift-bench --model FOLDER [--threads N] [--iterations N] [--shapes 1x16,32x128] [--peers FILE] [--reports DIR]: \(message)"
        case let .invalidPeers(message): return "peers file: \(message)"
        }
    }
}

/// A batch size and sequence length (tokens per input, [CLS] and [SEP] included).
struct BenchmarkShape: Equatable {
    let batch: Int
    let sequence: Int
    static let standard = [BenchmarkShape(batch: 1, sequence: 16), BenchmarkShape(batch: 1, sequence: 128),
                           BenchmarkShape(batch: 32, sequence: 128)]

    var label: String { "\(batch)x\(sequence)" }

    /// Deterministic token ids shared with Tools/bench_peers.py:
    /// [CLS]=101, then 1000 + (row·7919 + position·104729) mod 20000, then [SEP]=102.
    func syntheticEncodings(vocabularySize: Int) -> [TokenEncoding] {
        (0..<batch).map { row in
            let middle = (1..<(sequence - 1)).map { position in 1000 + (row * 7919 + position * 104_729) % 20000 }
            let ids = [101] + middle + [102]
            return TokenEncoding(ids: ids, tokens: [], attentionMask: Array(repeating: 1, count: sequence), wasTruncated: false)
        }
    }
}

/// Wall-clock timing with warm-up runs; reports every iteration's duration.
enum BenchmarkTimer {
    static func measure(warmup: Int, iterations: Int, _ body: () throws -> Void) rethrows -> [Double] {
        for _ in 0..<warmup { try body() }
        var seconds: [Double] = []
        for _ in 0..<iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return seconds
    }
}
