import CKernels
import Foundation
import QuantCore
import Testing

/// The SIMD element-wise kernels against their portable references (libm).
@Suite struct ElementwiseKernelTests {
    /// GELU through the polynomial erf: absolute error budget relative to max(1, |x|).
    static let geluTolerance: Float = 5e-7
    static let softmaxTolerance: Float = 1e-6

    @Test func geluMatchesReference() {
        var generator = SeededGenerator(seed: 3)
        var inputs = generator.floats(10_007, scale: 12)
        inputs += [0, -0.0, 1e-8, -1e-8, 40, -40, 100, -100, .infinity, -.infinity]
        var fast = inputs
        var reference = inputs
        fast.withUnsafeMutableBufferPointer { aimet_gelu_erf_f32($0.baseAddress!, $0.count) }
        reference.withUnsafeMutableBufferPointer { aimet_gelu_erf_f32_reference($0.baseAddress!, $0.count) }
        for index in inputs.indices where inputs[index].isFinite {
            let budget = Self.geluTolerance * max(1, abs(inputs[index]))
            #expect(abs(fast[index] - reference[index]) <= budget, "gelu(\(inputs[index])): \(fast[index]) vs \(reference[index])")
        }
        #expect(fast[inputs.count - 2] == .infinity)
    }

    @Test(arguments: [1, 7, 8, 9, 16, 33, 128, 257])
    func softmaxMatchesReference(count: Int) {
        var generator = SeededGenerator(seed: UInt64(count))
        let row = generator.floats(count, scale: 20)
        var mask = (0..<count).map { $0 % 5 == 3 ? Float(0) : 1 }
        for withMask in [false, true] {
            var fast = row, reference = row
            mask.withUnsafeMutableBufferPointer { mask in
                let maskPointer = withMask ? UnsafePointer(mask.baseAddress!) : nil
                fast.withUnsafeMutableBufferPointer { aimet_softmax_row_f32($0.baseAddress!, maskPointer, count, 0.7) }
                reference.withUnsafeMutableBufferPointer { aimet_softmax_row_f32_reference($0.baseAddress!, maskPointer, count, 0.7) }
            }
            #expect(maximumDifference(fast, reference) <= Self.softmaxTolerance, "count \(count), mask \(withMask)")
            #expect(abs(fast.reduce(0, +) - 1) <= 1e-5)
            if withMask { #expect(zip(fast, mask).allSatisfy { $1 != 0 || $0 == 0 }) }
        }
    }

    @Test func fullyMaskedRowIsUniform() {
        var row: [Float] = [3, 1, 2, 9, 4, 4, 4, 4, 4]
        let mask = [Float](repeating: 0, count: row.count)
        row.withUnsafeMutableBufferPointer { aimet_softmax_row_f32($0.baseAddress!, mask, $0.count, 1) }
        #expect(row.allSatisfy { abs($0 - 1 / 9) < 1e-7 })
    }

    @Test func expMatchesLibm() {
        var generator = SeededGenerator(seed: 5)
        let inputs = generator.floats(4099, scale: 80)
        var fast = inputs
        fast.withUnsafeMutableBufferPointer { aimet_exp_f32($0.baseAddress!, $0.count) }
        for (input, output) in zip(inputs, fast) {
            let expected = Foundation.exp(input)
            #expect(abs(output - expected) <= 3e-7 * expected, "exp(\(input))")
        }
    }
}
