import Foundation

/// How closely a quantized image classifier follows its fp32 reference (no labels needed:
/// agreement of the top classes and KL divergence of the softmax), how fast both run, and
/// what the quantization did. JSON schema `aimet-swift.classification`, version 1.
public struct ClassificationReport: Sendable, Equatable, Codable {
    public static let schema = "aimet-swift.classification"
    public static let schemaVersion = 1

    /// One candidate's agreement with the reference.
    public struct Agreement: Sendable, Equatable, Codable {
        public var label: String
        public var candidatePath: String
        /// Share of inputs where the candidate's top class is the reference's.
        public var top1: Double
        /// Share of inputs where the reference's top class is in the candidate's top 5.
        public var top5: Double
        /// Mean KL(softmax(reference) ‖ softmax(candidate)).
        public var meanKLDivergence: Double
        /// Median milliseconds per image at batch 1, measured alternately with the reference.
        public var latencyMilliseconds: Double?
        public var notes: [String]
        /// Top-1 agreement over the inputs on which the reference is decided (top logit ≥ 1
        /// above the runner-up), and how many those are; nil in reports written before.
        public var decidedTop1: Double?
        public var decidedCount: Int?

        public init(label: String, candidatePath: String, top1: Double, top5: Double, meanKLDivergence: Double,
                    latencyMilliseconds: Double?, notes: [String], decidedTop1: Double? = nil, decidedCount: Int? = nil) {
            self.decidedTop1 = decidedTop1
            self.decidedCount = decidedCount
            self.label = label
            self.candidatePath = candidatePath
            self.top1 = top1
            self.top5 = top5
            self.meanKLDivergence = meanKLDivergence
            self.latencyMilliseconds = latencyMilliseconds
            self.notes = notes
        }

        enum CodingKeys: String, CodingKey {
            case label
            case candidatePath = "candidate"
            case top1 = "top1_agreement"
            case top5 = "top5_agreement"
            case meanKLDivergence = "mean_kl_divergence"
            case latencyMilliseconds = "latency_ms"
            case notes
            case decidedTop1 = "decided_top1_agreement"
            case decidedCount = "decided_input_count"
        }
    }

    public var schema = ClassificationReport.schema
    public var schemaVersion = ClassificationReport.schemaVersion
    public var referencePath: String
    /// Where the evaluation images came from and how many inputs they made.
    public var inputs: String
    public var inputCount: Int
    public var referenceLatencyMilliseconds: Double?
    public var candidates: [Agreement]

    public init(referencePath: String, inputs: String, inputCount: Int, referenceLatencyMilliseconds: Double?, candidates: [Agreement]) {
        self.referencePath = referencePath
        self.inputs = inputs
        self.inputCount = inputCount
        self.referenceLatencyMilliseconds = referenceLatencyMilliseconds
        self.candidates = candidates
    }

    enum CodingKeys: String, CodingKey {
        case schema
        case schemaVersion = "schema_version"
        case referencePath = "reference"
        case inputs
        case inputCount = "input_count"
        case referenceLatencyMilliseconds = "reference_latency_ms"
        case candidates
    }

    /// Deterministic JSON (sorted keys).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try encoder.encode(self)
    }

    /// Reads a report, checking its schema.
    public static func decode(_ data: Data, path: String) throws -> ClassificationReport {
        let report: ClassificationReport
        do {
            report = try JSONDecoder().decode(ClassificationReport.self, from: data)
        } catch {
            throw ReportingError.invalidReport(path: path, reason: "\(error)")
        }
        guard report.schema == schema, report.schemaVersion == schemaVersion else {
            throw ReportingError.invalidReport(path: path, reason: "schema \(report.schema) v\(report.schemaVersion), expected \(schema) v\(schemaVersion)")
        }
        return report
    }

    /// The report as Markdown: one row per candidate, then each candidate's notes.
    public var markdown: String {
        func percent(_ value: Double) -> String { String(format: "%.1f%%", value * 100) }
        func milliseconds(_ value: Double?) -> String { value.map { String(format: "%.1f ms", $0) } ?? "—" }
        var lines = ["# Classification agreement", "",
                     "Reference `\(referencePath)`, \(inputCount) inputs (\(inputs)); reference latency \(milliseconds(referenceLatencyMilliseconds)) at batch 1.", "",
                     "| candidate | top-1 agreement | top-5 agreement | mean KL | top-1 on decided inputs | latency (batch 1) |",
                     "|---|---|---|---|---|---|"]
        for candidate in candidates {
            let decided = candidate.decidedTop1.map { "\(percent($0)) of \(candidate.decidedCount ?? 0)" } ?? "—"
            lines.append("| \(candidate.label) | \(percent(candidate.top1)) | \(percent(candidate.top5)) | "
                         + String(format: "%.4f", candidate.meanKLDivergence) + " | \(decided) | \(milliseconds(candidate.latencyMilliseconds)) |")
        }
        lines += ["", "Decided inputs: those on which the reference's top logit is at least 1 above its runner-up; "
                  + "on the others the reference itself is undecided and any perturbation may flip its top class."]
        for candidate in candidates where !candidate.notes.isEmpty {
            lines += ["", "## \(candidate.label)", ""] + Self.condensed(candidate.notes).map { "- \($0)" }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Notes for reading: the one-line-per-layer supergroup notes become a count (the JSON
    /// keeps every line).
    static func condensed(_ notes: [String]) -> [String] {
        let supergroups = notes.filter { $0.contains(": one supergroup") }
        guard !supergroups.isEmpty else { return notes }
        return notes.filter { !$0.contains(": one supergroup") }
            + ["\(supergroups.count) supergroups (a layer and the activation or batch norm after it share one quantizer); listed in the JSON report"]
    }
}
