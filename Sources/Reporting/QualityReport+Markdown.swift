extension QualityReport {
    /// A human-readable summary (written beside the JSON).
    public var markdown: String {
        var lines = ["# Quality report", "",
                     "- reference: `\(referencePath)`", "- candidate: `\(candidatePath)`",
                     "- held-out inputs: `\(inputFile)` (\(fidelity.inputCount))", "",
                     "## Fidelity (cosine of sentence embeddings, candidate vs reference)", "",
                     "| mean | p5 | min | nearest-neighbour agreement |", "|---:|---:|---:|---:|",
                     "| \(format(fidelity.meanCosine, 5)) | \(format(fidelity.p5Cosine, 5)) | \(format(fidelity.minimumCosine, 5)) | \(format(fidelity.nearestNeighbourAgreement * 100, 1))% |",
                     "", "## Size", "",
                     "| reference | candidate | ratio |", "|---:|---:|---:|",
                     "| \(megabytes(referenceBytes)) | \(megabytes(candidateBytes)) | \(format(sizeRatio * 100, 1))% |"]
        if let reference = referenceSpeed, let candidate = candidateSpeed {
            lines += ["", "## Speed (same run)", "",
                      "| model | latency, batch 1 (ms) | throughput, batch 32 (inputs/s) |", "|---|---:|---:|",
                      "| reference | \(format(reference.latencyMilliseconds, 2)) | \(format(reference.throughputPerSecond, 1)) |",
                      "| candidate | \(format(candidate.latencyMilliseconds, 2)) | \(format(candidate.throughputPerSecond, 1)) |"]
            if let ratio = throughputRatio { lines += ["", "Throughput ratio candidate ÷ reference: \(format(ratio, 2))×"] }
        }
        if !layers.isEmpty {
            let worst = layers.sorted { $0.decibels < $1.decibels }.prefix(10)
            lines += ["", "## Lowest per-layer SQNR", "", "| layer | SQNR (dB) |", "|---|---:|"]
            lines += worst.map { "| \($0.name) | \($0.decibels.isFinite ? format($0.decibels, 1) : "∞") |" }
        }
        if !notes.isEmpty {
            lines += ["", "## Notes", ""] + notes.map { "- \($0)" }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Fixed-point text of `value` with `digits` decimals (locale-independent).
func format(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return value > 0 ? "inf" : (value < 0 ? "-inf" : "nan") }
    let scaled = rounded(value, digits)
    let negative = scaled < 0
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let total = Int((abs(scaled) * scale).rounded())
    let whole = total / Int(scale)
    let fraction = String(total % Int(scale))
    let padded = String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
    return (negative ? "-" : "") + String(whole) + (digits > 0 ? "." + padded : "")
}

func megabytes(_ bytes: Int) -> String {
    format(Double(bytes) / 1_048_576, 2) + " MiB"
}
