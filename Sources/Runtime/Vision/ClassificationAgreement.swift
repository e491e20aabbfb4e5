import QuantCore

/// How closely a candidate classifier (e.g. the quantized model) agrees with a reference
/// (the fp32 model) on the same inputs, without labels.
///
/// Per input, with rows of `classes` logits:
/// - **top-1 agreement**: the candidate's top class equals the reference's top class.
/// - **top-5 agreement**: the reference's top class is among the candidate's 5 highest
///   classes (the label-free analogue of top-5 accuracy, with the reference's top-1 as label).
/// - **top-5 overlap**: `|top5(reference) ∩ top5(candidate)| / 5`, averaged over inputs.
/// - **KL**: `KL(softmax(reference) ‖ softmax(candidate))` in nats, averaged over inputs.
/// - **decided top-1 agreement**: top-1 agreement over the inputs on which the reference is
///   decided, its top logit at least `decidedMargin` above the runner-up (the runner-up at
///   most e⁻¹ as probable). On inputs the reference itself finds ambiguous (photos of
///   nothing in its label set), any perturbation flips the top class.
/// With fewer than 5 classes, "5" means all classes. Ties rank the lower class index first.
public struct ClassificationAgreement: Sendable, Equatable {
    /// Inputs measured.
    public let count: Int
    /// Fraction of inputs whose top-1 classes agree.
    public let top1Agreement: Double
    /// Fraction of inputs whose reference top-1 is in the candidate's top 5.
    public let top5Agreement: Double
    /// Mean fraction of shared classes between the two top-5 sets.
    public let top5Overlap: Double
    /// Mean KL divergence of the candidate's softmax from the reference's, in nats.
    public let meanKLDivergence: Double
    /// Indices of the inputs whose top-1 classes differ, ascending.
    public let top1Disagreements: [Int]
    /// Inputs on which the reference is decided (see `decidedMargin`).
    public let decidedCount: Int
    /// Top-1 agreement over those inputs (1 when there are none).
    public let decidedTop1Agreement: Double

    /// Logit margin of the reference's top class over its runner-up that makes an input decided.
    public static let decidedMargin: Float = 1

    /// Measures agreement for row-major logits, `classes` per row. Throws
    /// `RuntimeError.shapeMismatch` when the lengths differ, are not whole rows, or are empty.
    public static func measure(referenceLogits: [Float], candidateLogits: [Float], classes: Int) throws
        -> ClassificationAgreement
    {
        guard classes > 0, referenceLogits.count == candidateLogits.count, !referenceLogits.isEmpty,
              referenceLogits.count % classes == 0
        else {
            throw RuntimeError.shapeMismatch(
                node: "classification agreement",
                reason: "reference has \(referenceLogits.count) logits, candidate \(candidateLogits.count), "
                    + "expected the same non-zero multiple of \(classes) classes")
        }
        let rows = referenceLogits.count / classes
        let k = min(5, classes)
        var top1 = 0
        var top5 = 0
        var overlap = 0
        var disagreements: [Int] = []
        var decided = 0
        var decidedAgreements = 0
        for row in 0..<rows {
            let slice = row * classes..<(row + 1) * classes
            let referenceTop = topClasses(referenceLogits[slice], k)
            let candidateTop = topClasses(candidateLogits[slice], k)
            if referenceTop[0] == candidateTop[0] { top1 += 1 } else { disagreements.append(row) }
            if classes > 1, referenceLogits[slice.lowerBound + referenceTop[0]] - referenceLogits[slice.lowerBound + referenceTop[1]] >= decidedMargin {
                decided += 1
                if referenceTop[0] == candidateTop[0] { decidedAgreements += 1 }
            }
            if candidateTop.contains(referenceTop[0]) { top5 += 1 }
            overlap += Set(referenceTop).intersection(candidateTop).count
        }
        let divergence = try QuantizationMetrics.klDivergence(
            referenceLogits: referenceLogits, candidateLogits: candidateLogits, rowLength: classes)
        return ClassificationAgreement(
            count: rows, top1Agreement: Double(top1) / Double(rows), top5Agreement: Double(top5) / Double(rows),
            top5Overlap: Double(overlap) / Double(rows * k), meanKLDivergence: divergence,
            top1Disagreements: disagreements, decidedCount: decided,
            decidedTop1Agreement: decided == 0 ? 1 : Double(decidedAgreements) / Double(decided))
    }

    /// The `k` highest classes of one row, highest first; ties by lower index. NaN ranks lowest.
    public static func topClasses(_ logits: ArraySlice<Float>, _ k: Int) -> [Int] {
        let base = logits.startIndex
        let order = logits.indices.sorted { left, right in
            let a = logits[left], b = logits[right]
            if a.isNaN != b.isNaN { return b.isNaN }
            if a != b, !a.isNaN { return a > b }
            return left < right
        }
        return order.prefix(k).map { $0 - base }
    }
}
