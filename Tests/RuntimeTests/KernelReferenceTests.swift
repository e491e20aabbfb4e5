import CKernels
import Foundation
import ModelGraph
import QuantCore
@testable import Runtime
import Testing

extension SeededGenerator {
    mutating func floats(_ count: Int, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in Float.random(in: -scale...scale, using: &self) }
    }
}

func maximumDifference(_ left: [Float], _ right: [Float]) -> Float {
    zip(left, right).map { abs($0 - $1) }.max() ?? 0
}

@Suite struct KernelReferenceTests {
    /// Tolerance of fp32 BLAS against a Double-accumulated reference for K ≤ 1536.
    static let linearTolerance: Float = 1e-4

    @Test(arguments: [(1, 7, 5), (3, 384, 384), (7, 33, 17), (37, 384, 1536), (130, 1536, 384), (200, 300, 50)])
    func linearMatchesReferenceAndIsIdenticalForAnyThreadCount(rows: Int, inputs: Int, outputs: Int) {
        var generator = SeededGenerator(seed: UInt64(rows * 31 + inputs))
        let input = generator.floats(rows * inputs)
        let weight = generator.floats(outputs * inputs, scale: 0.1)
        let bias = generator.floats(outputs)
        let expected = LinearKernel.reference(input: input, rows: rows, inputs: inputs, weight: weight, bias: bias, outputs: outputs)
        let packed = PackedMatrix(linearWeight: weight, columns: outputs, depth: inputs)
        var first: [Float]?
        for threads in [1, 2, 3] {
            var output = [Float](repeating: .nan, count: rows * outputs)
            input.withUnsafeBufferPointer { input in
                bias.withUnsafeBufferPointer { bias in
                    output.withUnsafeMutableBufferPointer { output in
                        LinearKernel.apply(input: input.baseAddress!, rows: rows, weight: packed, bias: bias.baseAddress!,
                                           output: output.baseAddress!, threads: threads)
                    }
                }
            }
            #expect(maximumDifference(output, expected) <= Self.linearTolerance, "threads \(threads)")
            if let first {
                #expect(output == first, "results differ between thread counts")
            } else {
                first = output
            }
        }
    }

    @Test func packedGEMMPortablePathMatchesReference() {
        let rows = 13, inputs = 300, outputs = 37
        var generator = SeededGenerator(seed: 99)
        let input = generator.floats(rows * inputs), weight = generator.floats(outputs * inputs, scale: 0.1)
        let expected = LinearKernel.reference(input: input, rows: rows, inputs: inputs, weight: weight, bias: nil, outputs: outputs)
        let packed = PackedMatrix(linearWeight: weight, columns: outputs, depth: inputs)
        var output = [Float](repeating: .nan, count: rows * outputs)
        input.withUnsafeBufferPointer { input in
            packed.storage.withUnsafeBufferPointer { packed in
                output.withUnsafeMutableBufferPointer { output in
                    aimet_sgemm_packed_portable(rows, outputs, inputs, input.baseAddress!, inputs, packed.baseAddress!,
                                                nil, output.baseAddress!, outputs)
                }
            }
        }
        #expect(maximumDifference(output, expected) <= Self.linearTolerance)
    }

    @Test func parallelLoopVisitsEveryChunkOnce() {
        for threads in [1, 2, 4] {
            let counter = UnsafeMutablePointer<Int>.allocate(capacity: 1000)
            counter.initialize(repeating: 0, count: 1000)
            defer { counter.deallocate() }
            let box = UncheckedSendable(counter)
            Parallel.forEachChunk(count: 1000, chunkSize: 7, threads: threads) { range in
                for index in range { box.value[index] += 1 }
            }
            #expect((0..<1000).allSatisfy { counter[$0] == 1 }, "threads \(threads)")
        }
    }

    /// Plain attention: for each item and head, softmax(q·kᵀ/√d + mask) · v in Double.
    static func referenceAttention(query: [Float], key: [Float], value: [Float], mask: [Float],
                                   batch: Int, sequence: Int, heads: Int, headSize: Int) -> [Float] {
        let width = heads * headSize
        var output = [Float](repeating: 0, count: query.count)
        for item in 0..<batch {
            for head in 0..<heads {
                for row in 0..<sequence {
                    var scores = [Double](repeating: 0, count: sequence)
                    for column in 0..<sequence {
                        var dot = 0.0
                        for index in 0..<headSize {
                            dot += Double(query[(item * sequence + row) * width + head * headSize + index])
                                * Double(key[(item * sequence + column) * width + head * headSize + index])
                        }
                        scores[column] = dot / Double(headSize).squareRoot()
                            + (mask[item * sequence + column] == 0 ? -1e30 : 0)
                    }
                    let maximum = scores.max()!
                    let exponentials = scores.map { Foundation.exp($0 - maximum) }
                    let total = exponentials.reduce(0, +)
                    for index in 0..<headSize {
                        var sum = 0.0
                        for column in 0..<sequence {
                            sum += exponentials[column] / total
                                * Double(value[(item * sequence + column) * width + head * headSize + index])
                        }
                        output[(item * sequence + row) * width + head * headSize + index] = Float(sum)
                    }
                }
            }
        }
        return output
    }

    @Test func attentionMatchesReferenceWithPadding() {
        let batch = 3, sequence = 9, heads = 4, headSize = 8
        var generator = SeededGenerator(seed: 7)
        let count = batch * sequence * heads * headSize
        let query = generator.floats(count), key = generator.floats(count), value = generator.floats(count)
        var mask = [Float](repeating: 1, count: batch * sequence)
        for position in 5..<sequence { mask[sequence + position] = 0 }
        mask[2 * sequence + 8] = 0
        let expected = Self.referenceAttention(query: query, key: key, value: value, mask: mask, batch: batch,
                                               sequence: sequence, heads: heads, headSize: headSize)
        for threads in [1, 2] {
            var output = [Float](repeating: .nan, count: count)
            query.withUnsafeBufferPointer { q in
                key.withUnsafeBufferPointer { k in
                    value.withUnsafeBufferPointer { v in
                        mask.withUnsafeBufferPointer { m in
                            output.withUnsafeMutableBufferPointer { o in
                                AttentionKernel.apply(query: q.baseAddress!, key: k.baseAddress!, value: v.baseAddress!,
                                                      mask: m.baseAddress!, batch: batch, sequence: sequence, heads: heads,
                                                      headSize: headSize, output: o.baseAddress!, threads: threads)
                            }
                        }
                    }
                }
            }
            #expect(maximumDifference(output, expected) <= 1e-5, "threads \(threads)")
        }
    }

    @Test func layerNormMatchesReference() {
        let rows = 5, width = 384
        var generator = SeededGenerator(seed: 11)
        var values = generator.floats(rows * width, scale: 3).map { $0 + 2 }
        let original = values
        let weight = generator.floats(width), bias = generator.floats(width)
        values.withUnsafeMutableBufferPointer { values in
            NormalizationKernels.layerNorm(values.baseAddress!, rows: rows, width: width, weight: weight, bias: bias,
                                           epsilon: 1e-12, threads: 2)
        }
        for row in 0..<rows {
            let slice = original[row * width..<(row + 1) * width].map(Double.init)
            let mean = slice.reduce(0, +) / Double(width)
            let variance = slice.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
            for index in 0..<width {
                let expected = (slice[index] - mean) / (variance + 1e-12).squareRoot() * Double(weight[index]) + Double(bias[index])
                #expect(abs(Double(values[row * width + index]) - expected) <= 1e-5)
            }
        }
    }

    @Test(arguments: ActivationKind.allCases)
    func activationsMatchTheirDefinitions(kind: ActivationKind) {
        let inputs: [Float] = [-7, -2.5, -1, -0.1, 0, 0.3, 1, 2, 5.5, 8]
        var values = inputs
        values.withUnsafeMutableBufferPointer { ActivationKernels.apply(kind, to: $0.baseAddress!, count: inputs.count, threads: 1) }
        for (input, output) in zip(inputs.map(Double.init), values) {
            let expected: Double
            switch kind {
            case .relu: expected = max(input, 0)
            case .relu6: expected = min(max(input, 0), 6)
            case .gelu: expected = 0.5 * input * (1 + Foundation.erf(input / 2.0.squareRoot()))
            case .geluTanh: expected = 0.5 * input * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (input + 0.044715 * input * input * input)))
            case .silu: expected = input / (1 + Foundation.exp(-input))
            case .sigmoid: expected = 1 / (1 + Foundation.exp(-input))
            case .tanh: expected = Foundation.tanh(input)
            }
            #expect(abs(Double(output) - expected) <= 1e-6 * max(1, abs(expected)), "\(kind) at \(input)")
        }
    }

    /// The bounded ReLU node clamps each channel (last axis) at its own ceiling, on any thread
    /// count; a ceiling that does not match the channel count is a named error.
    @Test func boundedReLUClampsEachChannelAtItsCeiling() throws {
        var generator = SeededGenerator(seed: 91)
        let channels = 5, rows = 3 * 7 * 11
        let inputs = generator.floats(rows * channels, scale: 8)
        let ceilings: [Float] = [0, 0.5, 2, 6, 100]
        var builder = GraphBuilder()
        let input = builder.input("x")
        let output = builder.add("clip", .boundedReLU, inputs: [input], parameters: ["ceiling": Tensor(shape: [channels], scalars: ceilings)],
                                 sources: ["ceiling": "clip.ceiling"])
        let graph = try builder.finish(outputs: [output])
        for threads in [1, 2] {
            let result = try GraphExecutor(graph: graph, threads: threads).run(inputs: ["x": Tensor(shape: [3, 7, 11, channels], scalars: inputs)])[0]
            #expect(result.shape == [3, 7, 11, channels])
            for index in inputs.indices {
                #expect(result.scalars[index] == min(max(inputs[index], 0), ceilings[index % channels]))
            }
        }
        do {
            _ = try GraphExecutor(graph: graph, threads: 1).run(inputs: ["x": Tensor(shape: [2, 4], scalars: [Float](repeating: 1, count: 8))])
            Issue.record("a 4-channel input against 5 ceilings should fail")
        } catch let error as RuntimeError {
            #expect("\(error)".contains("clip"), "\(error)")
        }
    }

    @Test func maskedMeanIgnoresPadding() {
        let states: [Float] = [1, 2, 3, 4, 100, 200, /* item 2 */ 5, 6, 7, 8, 9, 10]
        let mask: [Float] = [1, 1, 0, 1, 1, 1]
        let pooled = NormalizationKernels.maskedMean(states, mask: mask, batch: 2, sequence: 3, width: 2)
        #expect(pooled == [2, 3, 7, 8])
    }
}
