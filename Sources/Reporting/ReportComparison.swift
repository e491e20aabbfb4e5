/// Compares a new quality report with a baseline and decides whether quality (and, when
/// asked, speed) gates pass. CI gates on quality only; speed gates are for benchmarks.
public struct ReportComparison: Sendable {
    /// One compared metric.
    public struct Row: Sendable, Equatable {
        public var metric: String
        public var baseline: Double
        public var candidate: Double
        /// Empty when no gate applies; otherwise what the gate demanded.
        public var gate: String
        public var passed: Bool
    }

    public let rows: [Row]

    /// Compares `candidate` with `baseline`. `maximumCosineDrop` gates the mean cosine
    /// (baseline − candidate ≤ drop); `maximumSlowdown` (e.g. 1.1) gates throughput
    /// (baseline ÷ candidate ≤ slowdown) when both reports measured speed.
    public init(baseline: QualityReport, candidate: QualityReport,
                maximumCosineDrop: Double?, maximumSlowdown: Double?) {
        var rows: [Row] = []
        let drop = baseline.fidelity.meanCosine - candidate.fidelity.meanCosine
        rows.append(Row(metric: "mean cosine", baseline: baseline.fidelity.meanCosine, candidate: candidate.fidelity.meanCosine,
                        gate: maximumCosineDrop.map { "drop ≤ \(format($0, 5))" } ?? "",
                        passed: maximumCosineDrop.map { drop <= $0 + 1e-12 } ?? true))
        rows.append(Row(metric: "p5 cosine", baseline: baseline.fidelity.p5Cosine, candidate: candidate.fidelity.p5Cosine, gate: "", passed: true))
        rows.append(Row(metric: "min cosine", baseline: baseline.fidelity.minimumCosine, candidate: candidate.fidelity.minimumCosine, gate: "", passed: true))
        rows.append(Row(metric: "nearest-neighbour agreement", baseline: baseline.fidelity.nearestNeighbourAgreement,
                        candidate: candidate.fidelity.nearestNeighbourAgreement, gate: "", passed: true))
        rows.append(Row(metric: "size ratio", baseline: baseline.sizeRatio, candidate: candidate.sizeRatio, gate: "", passed: true))
        if let base = baseline.candidateSpeed, let new = candidate.candidateSpeed {
            let slowdown = new.throughputPerSecond > 0 ? base.throughputPerSecond / new.throughputPerSecond : .infinity
            rows.append(Row(metric: "throughput (inputs/s)", baseline: base.throughputPerSecond, candidate: new.throughputPerSecond,
                            gate: maximumSlowdown.map { "slowdown ≤ \(format($0, 2))×" } ?? "",
                            passed: maximumSlowdown.map { slowdown <= $0 } ?? true))
            rows.append(Row(metric: "latency (ms)", baseline: base.latencyMilliseconds, candidate: new.latencyMilliseconds, gate: "", passed: true))
        }
        self.rows = rows
    }

    /// True when every gate passed.
    public var passed: Bool { rows.allSatisfy(\.passed) }

    /// The comparison as a Markdown table.
    public var markdown: String {
        var lines = ["| metric | baseline | new | change | gate | |", "|---|---:|---:|---:|---|---|"]
        for row in rows {
            let change = row.candidate - row.baseline
            let status = row.gate.isEmpty ? "" : (row.passed ? "pass" : "**FAIL**")
            lines.append("| \(row.metric) | \(format(row.baseline, 5)) | \(format(row.candidate, 5)) | \(change >= 0 ? "+" : "")\(format(change, 5)) | \(row.gate) | \(status) |")
        }
        lines.append("")
        lines.append(passed ? "All gates passed." : "A gate failed.")
        return lines.joined(separator: "\n") + "\n"
    }
}
