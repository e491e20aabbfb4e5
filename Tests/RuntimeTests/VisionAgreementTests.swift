import Foundation
@testable import Runtime
import Testing

@Suite("Vision: classification agreement")
struct VisionAgreementTests {
    @Test("hand-made logits: top-1, top-5, overlap and KL")
    func handMade() throws {
        // 6 classes, 3 inputs.
        let reference: [Float] = [
            5, 4, 3, 2, 1, 0,   // top-1 0, top-5 {0,1,2,3,4}
            0, 1, 2, 3, 4, 5,   // top-1 5, top-5 {5,4,3,2,1}
            1, 9, 1, 1, 1, 1,   // top-1 1, top-5 {1,0,2,3,4} (ties by index)
        ]
        let candidate: [Float] = [
            5, 4, 3, 2, 1, 0,   // identical
            5, 1, 2, 3, 4, 0,   // top-1 0 ≠ 5; top-5 {0,4,3,2,1}: reference top-1 5 missing; overlap 4
            9, 8, 0, 0, 0, 7,   // top-1 0 ≠ 1; top-5 {0,1,5,2,3}: contains 1; overlap 4
        ]
        let result = try ClassificationAgreement.measure(referenceLogits: reference, candidateLogits: candidate, classes: 6)
        #expect(result.count == 3)
        #expect(result.top1Agreement == 1.0 / 3)
        #expect(result.top5Agreement == 2.0 / 3)
        #expect(abs(result.top5Overlap - 13.0 / 15) < 1e-12)
        #expect(result.top1Disagreements == [1, 2])
        // KL by hand for the three rows (the first is 0).
        func logSoftmax(_ row: ArraySlice<Float>) -> [Double] {
            let values = row.map(Double.init)
            let top = values.max()!
            let sum = values.reduce(0) { $0 + exp($1 - top) }
            return values.map { $0 - top - log(sum) }
        }
        var total = 0.0
        for row in 0..<3 {
            let p = logSoftmax(reference[row * 6..<row * 6 + 6])
            let q = logSoftmax(candidate[row * 6..<row * 6 + 6])
            total += zip(p, q).reduce(0) { $0 + exp($1.0) * ($1.0 - $1.1) }
        }
        #expect(abs(result.meanKLDivergence - total / 3) < 1e-9)
        #expect(result.meanKLDivergence > 0)
    }

    @Test("decided inputs: the reference's top logit at least 1 above the runner-up")
    func decidedInputs() throws {
        let reference: [Float] = [
            3, 1, 0,      // margin 2: decided
            2, 1.5, 0,    // margin 0.5: undecided
            1, 0, -1,     // margin exactly 1: decided
            0, 0, 0,      // a tie: undecided
        ]
        let candidate: [Float] = [
            0, 1, 0,      // disagrees on a decided input
            0, 2, 0,      // disagrees on an undecided one
            1, 0, 0,      // agrees
            0, 0, 1,      // disagrees, undecided
        ]
        let result = try ClassificationAgreement.measure(referenceLogits: reference, candidateLogits: candidate, classes: 3)
        #expect(result.decidedCount == 2)
        #expect(result.decidedTop1Agreement == 0.5)
        #expect(result.top1Agreement == 0.25)
        let none = try ClassificationAgreement.measure(referenceLogits: [0, 0], candidateLogits: [1, 0], classes: 2)
        #expect(none.decidedCount == 0 && none.decidedTop1Agreement == 1)
    }

    @Test("identical logits agree fully with zero divergence")
    func identical() throws {
        let logits: [Float] = (0..<40).map { Float(($0 * 7) % 11) }
        let result = try ClassificationAgreement.measure(referenceLogits: logits, candidateLogits: logits, classes: 10)
        #expect(result.top1Agreement == 1 && result.top5Agreement == 1 && result.top5Overlap == 1)
        #expect(abs(result.meanKLDivergence) < 1e-12 && result.top1Disagreements.isEmpty)
    }

    @Test("fewer than five classes: top-5 means all classes")
    func fewClasses() throws {
        let result = try ClassificationAgreement.measure(referenceLogits: [1, 2, 3], candidateLogits: [3, 2, 1], classes: 3)
        #expect(result.top1Agreement == 0 && result.top5Agreement == 1 && result.top5Overlap == 1)
    }

    @Test("top classes: highest first, ties by lower index, NaN last")
    func topClasses() {
        #expect(ClassificationAgreement.topClasses([1, 3, 3, .nan, 2][...], 4) == [1, 2, 4, 0])
        let slice = ([9, 9, 0, 5, 7] as [Float])[2..<5]
        #expect(ClassificationAgreement.topClasses(slice, 2) == [2, 1])
    }

    @Test("mismatched or partial rows are typed errors", arguments: [
        ([Float](repeating: 0, count: 10), [Float](repeating: 0, count: 9), 5),
        ([Float](repeating: 0, count: 9), [Float](repeating: 0, count: 9), 5),
        ([Float](), [Float](), 5),
        ([Float](repeating: 0, count: 10), [Float](repeating: 0, count: 10), 0),
    ])
    func badShapes(reference: [Float], candidate: [Float], classes: Int) {
        #expect(throws: RuntimeError.self) {
            try ClassificationAgreement.measure(referenceLogits: reference, candidateLogits: candidate, classes: classes)
        }
    }
}
