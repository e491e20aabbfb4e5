import Dispatch
import Foundation
import ModelGraph
import ModelIO
import QuantCore
import Reporting
import Runtime

/// Records the outputs of chosen nodes for one input (per-layer SQNR).
final class OutputRecorder: ActivationTap, @unchecked Sendable {
    let names: Set<String>
    let next: ActivationTap?
    var outputs: [String: [Float]] = [:]

    init(names: Set<String>, next: ActivationTap?) {
        self.names = names
        self.next = next
    }

    func nodeDidRun(_ node: Node, output: inout Tensor) {
        next?.nodeDidRun(node, output: &output)
        if names.contains(node.name) { outputs[node.name] = output.scalars }
    }
}

/// A model ready to embed text: the executor and the tap that applies its activation
/// quantizers (nil for fp32 models).
public struct EmbeddingModel: Sendable {
    public let path: String
    public let embedder: SentenceEmbedder
    public let tap: ActivationQuantizationTap?

    public init(path: String, embedder: SentenceEmbedder, tap: ActivationQuantizationTap?) {
        self.path = path
        self.embedder = embedder
        self.tap = tap
    }

    /// Embeddings of `texts`.
    public func embed(_ texts: [String], batchSize: Int = 32) throws -> [[Float]] {
        try embedder.embed(texts, batchSize: batchSize, tap: tap).embeddings
    }
}

/// Measures a candidate model against a reference on held-out inputs.
public enum Evaluator {
    /// Options of one evaluation.
    public struct Options: Sendable {
        /// Inputs used for per-layer SQNR (a prefix of the held-out set).
        public var layerInputs = 8
        /// Timed repetitions of the batch-1 latency measurement.
        public var latencyRuns = 20
        /// Measure speed at all (tests skip it: timing is never asserted there).
        public var measureSpeed = true
        /// Alternating rounds of reference and candidate timing (medians are reported), so
        /// drifts of a shared machine hit both models alike.
        public var speedRounds = 5
        public init() {}
    }

    /// Evaluates `candidate` against `reference` on `inputs` and returns the report.
    public static func evaluate(reference: EmbeddingModel, candidate: EmbeddingModel, inputs: [String], inputFile: String,
                                recipe: JSONValue, notes: [String], options: Options = Options()) throws -> QualityReport {
        guard !inputs.isEmpty else { throw QuantizationPipelineError.emptyCalibrationSet(path: inputFile) }
        let referenceVectors = try reference.embed(inputs)
        let candidateVectors = try candidate.embed(inputs)
        let fidelity = try Self.fidelity(reference: referenceVectors, candidate: candidateVectors)
        let layers = try layerSQNR(reference: reference, candidate: candidate, inputs: Array(inputs.prefix(options.layerInputs)))
        var referenceSpeed: QualityReport.Speed?
        var candidateSpeed: QualityReport.Speed?
        if options.measureSpeed {
            (referenceSpeed, candidateSpeed) = try speeds(of: reference, candidate, inputs: inputs, runs: options.latencyRuns,
                                                          rounds: options.speedRounds)
        }
        return QualityReport(referencePath: reference.path, candidatePath: candidate.path, recipe: recipe, inputFile: inputFile,
                             fidelity: fidelity, layers: layers, referenceSpeed: referenceSpeed, candidateSpeed: candidateSpeed,
                             referenceBytes: weightBytes(in: reference.path), candidateBytes: weightBytes(in: candidate.path),
                             notes: notes)
    }

    /// Cosine statistics and nearest-neighbour agreement of two sets of embeddings.
    public static func fidelity(reference: [[Float]], candidate: [[Float]]) throws -> QualityReport.Fidelity {
        let cosines = try zip(reference, candidate).map { try QuantizationMetrics.cosineSimilarity($0, $1) }.sorted()
        let mean = cosines.reduce(0, +) / Double(cosines.count)
        let p5 = cosines[min(cosines.count - 1, Int((Double(cosines.count) * 0.05).rounded(.down)))]
        var agreements = 0
        for index in reference.indices {
            if nearestNeighbour(of: index, in: reference) == nearestNeighbour(of: index, in: candidate) { agreements += 1 }
        }
        return QualityReport.Fidelity(meanCosine: mean, p5Cosine: p5, minimumCosine: cosines.first ?? 0,
                                      nearestNeighbourAgreement: Double(agreements) / Double(reference.count),
                                      inputCount: reference.count)
    }

    static func nearestNeighbour(of index: Int, in vectors: [[Float]]) -> Int {
        var best = -1
        var bestScore = -Double.infinity
        for other in vectors.indices where other != index {
            var dot = 0.0
            for (a, b) in zip(vectors[index], vectors[other]) { dot += Double(a) * Double(b) }
            if dot > bestScore {
                bestScore = dot
                best = other
            }
        }
        return best
    }

    /// SQNR of every linear layer's output, candidate against reference, pooled over `inputs`.
    static func layerSQNR(reference: EmbeddingModel, candidate: EmbeddingModel, inputs: [String]) throws -> [QualityReport.LayerSQNR] {
        let names = reference.embedder.model.graph.nodes.filter { $0.op == .linear }.map(\.name)
        var signal: [String: Double] = [:], noise: [String: Double] = [:]
        for input in inputs {
            let referenceRecorder = OutputRecorder(names: Set(names), next: reference.tap)
            let candidateRecorder = OutputRecorder(names: Set(names), next: candidate.tap)
            _ = try reference.embedder.embed([input], batchSize: 1, tap: referenceRecorder)
            _ = try candidate.embedder.embed([input], batchSize: 1, tap: candidateRecorder)
            for name in names {
                guard let expected = referenceRecorder.outputs[name], let actual = candidateRecorder.outputs[name] else { continue }
                for (x, y) in zip(expected, actual) {
                    signal[name, default: 0] += Double(x) * Double(x)
                    noise[name, default: 0] += Double(x - y) * Double(x - y)
                }
            }
        }
        return names.map { name in
            let energy = signal[name] ?? 0, error = noise[name] ?? 0
            return QualityReport.LayerSQNR(name: name, decibels: error == 0 ? .infinity : 10 * log10(energy / error))
        }
    }

    /// Median batch-1 latency and batch-32 throughput of both models, measured in
    /// alternating rounds (reference, candidate, reference, ...) after one warm-up each.
    static func speeds(of reference: EmbeddingModel, _ candidate: EmbeddingModel, inputs: [String], runs: Int,
                       rounds: Int) throws -> (QualityReport.Speed, QualityReport.Speed) {
        let batch = Array(inputs.prefix(max(32, min(inputs.count, 128))))
        var latencies: [[Double]] = [[], []], throughputs: [[Double]] = [[], []]
        let models = [reference, candidate]
        for model in models { _ = try model.embed(Array(batch.prefix(32)), batchSize: 32) }
        for _ in 0..<max(1, rounds) {
            for (slot, model) in models.enumerated() {
                for index in 0..<max(1, runs / max(1, rounds)) {
                    let text = inputs[index % inputs.count]
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = try model.embed([text], batchSize: 1)
                    latencies[slot].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                }
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try model.embed(batch, batchSize: 32)
                throughputs[slot].append(Double(batch.count) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
            }
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        return (QualityReport.Speed(latencyMilliseconds: median(latencies[0]), throughputPerSecond: median(throughputs[0])),
                QualityReport.Speed(latencyMilliseconds: median(latencies[1]), throughputPerSecond: median(throughputs[1])))
    }

    /// Bytes of the `*.safetensors` files of a model folder.
    public static func weightBytes(in folder: String) -> Int {
        guard let files = try? ModelFolder(path: folder).allFiles() else { return 0 }
        return files.filter { $0.hasSuffix(".safetensors") }.reduce(0) { total, file in
            total + ((try? FileManager.default.attributesOfItem(atPath: folder + "/" + file)[.size] as? Int) ?? 0)
        }
    }
}
