import AimetSwift
import Foundation

/// The peer engines (onnxruntime fp32 and dynamic int8, torch) run by Tools/bench_peers.py
/// in a child process that this benchmark drives, one request per shape and round, so the
/// peers are timed in the same interleaved rounds as aimet-swift.
final class PeerEngines {
    private let process = Process()
    private let requests = Pipe()
    private let replies = Pipe()
    private var buffer: [UInt8] = []
    /// Engine names, in the order the script reports them.
    private(set) var engines: [String] = []
    /// Library versions the script reports.
    private(set) var versions: [(String, String)] = []

    /// Starts `python script --serve model threads` and waits for its list of engines
    /// (building them exports and quantizes the ONNX model, which takes a while).
    init(python: String, script: String, model: String, threads: Int) throws {
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, "--serve", model, String(threads)]
        process.standardInput = requests
        process.standardOutput = replies
        try process.run()
        let hello = try readReply()
        guard let names = hello["engines"]?.arrayValue?.compactMap(\.stringValue), !names.isEmpty else {
            throw BenchmarkError.peers("the script reported no engines")
        }
        engines = names
        if case let .object(object)? = hello["versions"] {
            versions = object.entries.compactMap { key, value in value.stringValue.map { (key, $0) } }
        }
    }

    /// Times every peer engine `iterations` times at `shape` (after `warmup` untimed runs).
    func measure(shape: BenchmarkShape, iterations: Int, warmup: Int) throws -> [String: [Double]] {
        let request = "{\"batch\": \(shape.batch), \"sequence\": \(shape.sequence), \"iterations\": \(iterations), \"warmup\": \(warmup)}\n"
        requests.fileHandleForWriting.write(Data(request.utf8))
        let reply = try readReply()
        guard let results = reply["results"]?.arrayValue else { throw BenchmarkError.peers("a reply lacks 'results'") }
        var timings: [String: [Double]] = [:]
        for entry in results {
            guard let engine = entry["engine"]?.stringValue,
                  let seconds = entry["seconds"]?.arrayValue?.compactMap(\.doubleValue), seconds.count == iterations else {
                throw BenchmarkError.peers("a result lacks engine or \(iterations) timings")
            }
            timings[engine] = seconds
        }
        return timings
    }

    /// Closes the script's input (it exits) and waits for it.
    func finish() {
        try? requests.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    private func readReply() throws -> JSONValue {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<newline])
                buffer.removeFirst(newline + 1)
                return try JSONParser.parse(line, path: "bench_peers.py output")
            }
            let data = replies.fileHandleForReading.availableData
            guard !data.isEmpty else {
                throw BenchmarkError.peers("the script exited before replying (see its messages above)")
            }
            buffer += data
        }
    }
}
