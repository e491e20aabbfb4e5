import Foundation
import ModelGraph
import ModelIO
import Quantization
import QuantCore
import Runtime
import Testing

/// One real layer through the W8A8 kernel against the same layer in QuantSim form (fake-
/// quantized weights, input on the activation grid, fp32 arithmetic).
@Suite struct IntegerLinearTests {
    @Test(arguments: [1, 7, 50, 130])
    func w8a8LayerMatchesFakeQuantizedLayer(rows: Int) throws {
        let model = try HuggingFaceModel(path: PipelinePaths.miniLMFolder)
        let node = model.graph.node(named: "encoder.layer.0.attention.self.query")!
        let weight = node.parameters["weight"]!, bias = node.parameters["bias"]!
        let scheme = try QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perChannel(axis: 0))
        let encoding = try RangeEstimator.minMax.encoding(of: weight, scheme: scheme, tensorName: "w")
        let record = try Exporter.record(for: weight, named: "w", encoding: encoding)
        let matrix = try PackedInt8Matrix(weight: record.values.map { Int8($0) }, scales: record.scales, columns: 384, depth: 384)
        var generator = SeededGenerator(seed: UInt64(rows))
        let activationScale: Float = 0.037, zeroPoint: Int32 = 93
        let codes = (0..<rows * 384).map { _ in Int32.random(in: 0...255, using: &generator) }
        let input = codes.map { Float($0 - zeroPoint) * activationScale }
        let fakeWeight = try Quantizer.fakeQuantize(weight, with: encoding, tensorName: "w")
        let expected = LinearKernel.reference(input: input, rows: rows, inputs: 384, weight: fakeWeight.scalars,
                                              bias: bias.scalars, outputs: 384)
        var output = [Float](repeating: .nan, count: rows * 384)
        var quantized = [UInt8](repeating: 0, count: input.count)
        input.withUnsafeBufferPointer { input in
            quantized.withUnsafeMutableBufferPointer { quantized in
                QuantizedLinearKernel.quantizeActivations(input.baseAddress!, count: input.count, scale: activationScale,
                                                          zeroPoint: zeroPoint, output: quantized.baseAddress!, threads: 2)
                bias.scalars.withUnsafeBufferPointer { bias in
                    output.withUnsafeMutableBufferPointer { output in
                        QuantizedLinearKernel.applyW8A8(input: quantized.baseAddress!, rows: rows, activationScale: activationScale,
                                                        zeroPoint: zeroPoint, weight: matrix, bias: bias.baseAddress!,
                                                        output: output.baseAddress!, threads: 2)
                    }
                }
            }
        }
        #expect(quantized.map { Int32($0) } == codes, "re-quantizing grid values is exact")
        let difference = zip(expected, output).map { abs($0 - $1) }.max() ?? .infinity
        #expect(difference <= 1e-4, "max abs difference \(difference)")
    }
}
