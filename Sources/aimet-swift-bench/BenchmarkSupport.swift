import AimetSwift
import Foundation

/// Command-line options of the benchmark executable.
struct BenchmarkOptions {
    /// The fp32 model folder (the baseline every ratio is taken against).
    var model = ""
    /// Compressed model folders to time beside it, as (label, folder).
    var candidates: [(label: String, folder: String)] = []
    var threads = ProcessInfoCores.active
    var warmup = 2
    /// Timed runs per engine, shape and round (more for the small shapes).
    var iterations = 3
    /// Interleaved rounds: every engine runs once per round and shape, so drifts of a shared
    /// machine hit all engines alike; medians are taken over all rounds.
    var rounds = 5
    /// Python interpreter and script of the peer engines (onnxruntime, torch); none if nil.
    var peersPython: String?
    var peersScript = "Tools/bench_peers.py"
    var reportFolder = "Reports"
    var reportName = "bench-runtime"
    var shapes = BenchmarkShape.standard

    init(arguments: [String]) throws {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            guard let value = iterator.next() else { throw BenchmarkError.usage("\(argument) needs a value") }
            switch argument {
            case "--model": model = value
            case "--candidate":
                guard let equals = value.firstIndex(of: "="), equals != value.startIndex else {
                    throw BenchmarkError.usage("--candidate takes LABEL=FOLDER")
                }
                candidates.append((String(value[..<equals]), String(value[value.index(after: equals)...])))
            case "--threads": threads = try Self.positive(value, argument)
            case "--warmup": warmup = try Self.positive(value, argument, allowZero: true)
            case "--iterations": iterations = try Self.positive(value, argument)
            case "--rounds": rounds = try Self.positive(value, argument)
            case "--peers-python": peersPython = value
            case "--peers-script": peersScript = value
            case "--reports": reportFolder = value
            case "--name": reportName = value
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

    private static func positive(_ value: String, _ option: String, allowZero: Bool = false) throws -> Int {
        guard let number = Int(value), number > 0 || (allowZero && number == 0) else {
            throw BenchmarkError.usage("\(option) takes a positive integer, not '\(value)'")
        }
        return number
    }

    /// More iterations for the fast shapes so each shape runs for a comparable time.
    func iterations(for shape: BenchmarkShape) -> Int {
        shape.batch * shape.sequence <= 128 ? iterations * 4 : iterations
    }
}

enum BenchmarkError: Error, CustomStringConvertible {
    case usage(String)
    case peers(String)
    var description: String {
        switch self {
        case let .usage(message):
            return "usage: aimet-swift-bench --model FOLDER [--candidate LABEL=FOLDER]... [--threads N] [--iterations N] [--rounds N] [--warmup N] [--shapes 1x16,32x128] [--peers-python PYTHON] [--peers-script FILE] [--reports DIR] [--name NAME]: \(message)"
        case let .peers(message): return "peer engines: \(message)"
        }
    }
}

/// A batch size and sequence length (tokens per input, [CLS] and [SEP] included).
struct BenchmarkShape: Hashable {
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
