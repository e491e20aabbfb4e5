import Dispatch
import ModelIO
import ModelGraph
import QuantCore
import Reporting
import Runtime

/// Runs image classifiers over named inputs and measures a candidate against a reference:
/// top-1 / top-5 agreement and mean KL of the softmax (`ClassificationAgreement`), plus
/// batch-1 latency measured alternately with the reference.
public enum ClassifierEvaluation {
    /// A classifier ready to run: the executor and its activation quantizers (nil for fp32).
    public struct Runner: Sendable {
        public let classifier: ImageClassifier
        let executor: GraphExecutor
        let tap: ActivationQuantizationTap?

        /// Runs `classifier` as is when `activationEncodings` is empty, else with its
        /// activations fake-quantized at those encodings (the QuantSim of the compressed model).
        public init(_ classifier: ImageClassifier, activationEncodings: [String: Encoding] = [:],
                    threads: Int = ProcessInfoCores.active) {
            self.classifier = classifier
            executor = GraphExecutor(graph: classifier.graph, threads: threads)
            tap = activationEncodings.isEmpty ? nil : ActivationQuantizationTap(encodings: activationEncodings)
        }

        /// Runs the compressed classifier in `folder` (written by `ClassifierExport`) on the
        /// integer kernels `IntegerConvolutionPlanner` chooses from its records and activation
        /// encodings; the remaining activation quantizers are applied by a tap, and layers
        /// without an integer kernel run in fp32 on the dequantized weights. An fp32 folder
        /// runs as is.
        public init(compressedFolder folder: String, threads: Int = ProcessInfoCores.active) throws {
            let classifier = try ImageClassifier.load(path: folder, architecture: nil)
            self.classifier = classifier
            guard CompressedModel.isCompressed(folder: folder) else {
                executor = GraphExecutor(graph: classifier.graph, threads: threads)
                tap = nil
                return
            }
            let encodings = try ClassifierExport.activationEncodings(of: folder)
            let plan = try IntegerConvolutionPlanner.plan(graph: classifier.graph, model: try CompressedModel(folder: folder),
                                                          activationEncodings: encodings)
            executor = GraphExecutor(graph: classifier.graph, threads: threads, quantizedLinears: plan.linears,
                                     quantizedConvolutions: plan.convolutions)
            let remaining = plan.tapEncodings(encodings)
            tap = remaining.isEmpty ? nil : ActivationQuantizationTap(encodings: remaining, threads: threads)
        }

        /// Logits of every input, concatenated, and the class count.
        public func logits(_ inputs: [NamedTensor]) throws -> (values: [Float], classes: Int) {
            var values: [Float] = []
            var classes = 0
            for input in inputs {
                let output = try executor.run(inputs: [classifier.inputName: input.tensor], tap: tap)[0]
                classes = output.shape.last ?? output.count
                values += output.scalars
            }
            return (values, classes)
        }

        /// Median milliseconds of one run on `input`.
        func latency(_ input: NamedTensor, runs: Int) throws -> [Double] {
            try (0..<runs).map { _ in
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try executor.run(inputs: [classifier.inputName: input.tensor], tap: tap)
                return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            }
        }
    }

    /// Agreement of each candidate with the reference on `inputs`; with `timingRuns` > 0,
    /// batch-1 latencies measured in alternating rounds (reference, then each candidate).
    public static func evaluate(reference: Runner, candidates: [(label: String, runner: Runner, notes: [String])],
                                inputs: [NamedTensor], inputDescription: String, timingRuns: Int = 0) throws -> ClassificationReport {
        let expected = try reference.logits(inputs)
        var agreements: [ClassificationReport.Agreement] = []
        var latencies = [[Double]](repeating: [], count: candidates.count + 1)
        if timingRuns > 0, let probe = inputs.first {
            for _ in 0..<5 {
                latencies[0] += try reference.latency(probe, runs: timingRuns)
                for (index, candidate) in candidates.enumerated() { latencies[index + 1] += try candidate.runner.latency(probe, runs: timingRuns) }
            }
        }
        func median(_ values: [Double]) -> Double? {
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            return sorted[sorted.count / 2]
        }
        for (index, candidate) in candidates.enumerated() {
            let actual = try candidate.runner.logits(inputs)
            let agreement = try ClassificationAgreement.measure(referenceLogits: expected.values, candidateLogits: actual.values,
                                                                classes: expected.classes)
            agreements.append(ClassificationReport.Agreement(
                label: candidate.label, candidatePath: candidate.runner.classifier.path, top1: agreement.top1Agreement,
                top5: agreement.top5Agreement, meanKLDivergence: agreement.meanKLDivergence,
                latencyMilliseconds: median(latencies[index + 1]), notes: candidate.notes,
                decidedTop1: agreement.decidedTop1Agreement, decidedCount: agreement.decidedCount))
        }
        return ClassificationReport(referencePath: reference.classifier.path, inputs: inputDescription, inputCount: inputs.count,
                                    referenceLatencyMilliseconds: median(latencies[0]), candidates: agreements)
    }
}
