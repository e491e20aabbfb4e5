import ModelGraph
import QuantCore

/// Buffer plumbing around the integer linear kernels.
enum QuantizedOperations {
    static func linear(_ node: Node, _ input: Tensor, quantized: QuantizedLinear, threads: Int) throws -> Tensor {
        let outputs = quantized.columns, inputs = quantized.depth
        guard input.shape.last == inputs else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "input \(input.shape) does not end in \(inputs)")
        }
        let rows = input.count / inputs
        let bias = node.parameters["bias"]?.scalars
        let result = [Float](unsafeUninitializedCapacity: rows * outputs) { output, initialized in
            withOptionalBuffer(bias) { bias in
                input.scalars.withUnsafeBufferPointer { input in
                    switch quantized {
                    case let .weightOnly(matrix):
                        QuantizedLinearKernel.applyWeightOnly(input: input.baseAddress!, rows: rows, weight: matrix, bias: bias,
                                                              output: output.baseAddress!, threads: threads)
                    case let .integer(matrix, scale, zeroPoint, grid):
                        QuantizedLinearKernel.applyW8A8(floatInput: input.baseAddress!, rows: rows, activationScale: scale,
                                                        zeroPoint: zeroPoint, weight: matrix, bias: bias, outputGrid: grid,
                                                        output: output.baseAddress!, threads: threads)
                    case let .integer16(matrix, inputGrid, grid):
                        QuantizedLinearKernel.applyW8A16(floatInput: input.baseAddress!, rows: rows, inputGrid: inputGrid,
                                                         weight: matrix, bias: bias, outputGrid: grid,
                                                         output: output.baseAddress!, threads: threads)
                    }
                }
            }
            initialized = rows * outputs
        }
        return Tensor(shape: Array(input.shape.dropLast()) + [outputs], scalars: result)
    }

    private static func withOptionalBuffer<Result>(_ values: [Float]?, _ body: (UnsafePointer<Float>?) -> Result) -> Result {
        guard let values else { return body(nil) }
        return values.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
