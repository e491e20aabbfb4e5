import ModelGraph
import QuantCore

/// Shape checks and buffer plumbing around the fp32 kernels, one function per op.
enum FloatOperations {
    static func parameter(_ node: Node, _ name: String) throws -> Tensor {
        guard let tensor = node.parameters[name] else {
            throw RuntimeError.missingParameter(node: node.name, parameter: name)
        }
        return tensor
    }

    static func embedding(_ node: Node, indices: Tensor) throws -> Tensor {
        let table = try parameter(node, "weight")
        let rows = table.shape[0], width = table.shape[1]
        var result = [Float](repeating: 0, count: indices.count * width)
        for (position, value) in indices.scalars.enumerated() {
            let row = Int(value)
            guard Float(row) == value, row >= 0, row < rows else {
                throw RuntimeError.indexOutOfRange(node: node.name, index: Int(value.isFinite ? value : -1), rows: rows)
            }
            let start = row * width
            result.withUnsafeMutableBufferPointer { output in
                table.scalars.withUnsafeBufferPointer { source in
                    (output.baseAddress! + position * width).update(from: source.baseAddress! + start, count: width)
                }
            }
        }
        return Tensor(shape: indices.shape + [width], scalars: result)
    }

    static func linear(_ node: Node, _ input: Tensor, packed: PackedMatrix, threads: Int) throws -> Tensor {
        let outputs = packed.columns, inputs = packed.depth
        guard input.shape.last == inputs else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "input \(input.shape) does not end in \(inputs)")
        }
        let rows = input.count / inputs
        let bias = node.parameters["bias"]
        let result = [Float](unsafeUninitializedCapacity: rows * outputs) { output, initialized in
            input.scalars.withUnsafeBufferPointer { input in
                if let bias {
                    bias.scalars.withUnsafeBufferPointer { bias in
                        LinearKernel.apply(input: input.baseAddress!, rows: rows, weight: packed, bias: bias.baseAddress!,
                                           output: output.baseAddress!, threads: threads)
                    }
                } else {
                    LinearKernel.apply(input: input.baseAddress!, rows: rows, weight: packed, bias: nil,
                                       output: output.baseAddress!, threads: threads)
                }
            }
            initialized = rows * outputs
        }
        return Tensor(shape: Array(input.shape.dropLast()) + [outputs], scalars: result)
    }

    /// Layer normalisation in place over the last axis of `values`.
    static func layerNorm(_ node: Node, _ values: inout Tensor, epsilon: Float, threads: Int) throws {
        let weight = try parameter(node, "weight"), bias = try parameter(node, "bias")
        let width = weight.count
        guard values.shape.last == width else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "input \(values.shape) does not end in \(width)")
        }
        let rows = values.count / width
        values.scalars.withUnsafeMutableBufferPointer { values in
            weight.scalars.withUnsafeBufferPointer { weight in
                bias.scalars.withUnsafeBufferPointer { bias in
                    NormalizationKernels.layerNorm(values.baseAddress!, rows: rows, width: width,
                                                   weight: weight.baseAddress!, bias: bias.baseAddress!,
                                                   epsilon: epsilon, threads: threads)
                }
            }
        }
    }

    static func elementwise(_ node: Node, _ arguments: inout [Tensor], _ combine: (Float, Float) -> Float) throws -> Tensor {
        guard arguments.count == 2, arguments[0].shape == arguments[1].shape else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "operands \(arguments.map(\.shape)) differ")
        }
        let other = arguments.removeLast()
        var result = arguments.removeLast()
        let count = result.count
        result.scalars.withUnsafeMutableBufferPointer { output in
            other.scalars.withUnsafeBufferPointer { input in
                for index in 0..<count { output[index] = combine(output[index], input[index]) }
            }
        }
        return result
    }

    static func attention(_ node: Node, _ arguments: [Tensor], attributes: AttentionAttributes, threads: Int) throws -> Tensor {
        guard arguments.count >= 3 else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "attention needs query, key and value")
        }
        let query = arguments[0], key = arguments[1], value = arguments[2]
        let width = attributes.heads * attributes.headSize
        guard query.rank == 3, query.shape[2] == width, key.shape == query.shape, value.shape == query.shape else {
            throw RuntimeError.shapeMismatch(
                node: node.name, reason: "query/key/value \(query.shape), \(key.shape), \(value.shape) need [batch, sequence, \(width)]")
        }
        let batch = query.shape[0], sequence = query.shape[1]
        let mask = arguments.count > 3 ? arguments[3] : nil
        if let mask, mask.shape != [batch, sequence] {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "mask \(mask.shape) is not [\(batch), \(sequence)]")
        }
        var result = [Float](repeating: 0, count: query.count)
        query.scalars.withUnsafeBufferPointer { q in
            key.scalars.withUnsafeBufferPointer { k in
                value.scalars.withUnsafeBufferPointer { v in
                    result.withUnsafeMutableBufferPointer { output in
                        func run(_ maskPointer: UnsafePointer<Float>?) {
                            AttentionKernel.apply(query: q.baseAddress!, key: k.baseAddress!, value: v.baseAddress!,
                                                  mask: maskPointer, batch: batch, sequence: sequence,
                                                  heads: attributes.heads, headSize: attributes.headSize,
                                                  output: output.baseAddress!, threads: threads)
                        }
                        if let mask {
                            mask.scalars.withUnsafeBufferPointer { run($0.baseAddress!) }
                        } else {
                            run(nil)
                        }
                    }
                }
            }
        }
        return Tensor(shape: query.shape, scalars: result)
    }

    static func meanPool(_ node: Node, _ arguments: [Tensor]) throws -> Tensor {
        guard arguments.count == 2, arguments[0].rank == 3,
              arguments[1].shape == Array(arguments[0].shape.prefix(2)) else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "mean pooling needs [batch, sequence, width] and a [batch, sequence] mask")
        }
        let states = arguments[0], mask = arguments[1]
        let batch = states.shape[0], sequence = states.shape[1], width = states.shape[2]
        let pooled = states.scalars.withUnsafeBufferPointer { states in
            mask.scalars.withUnsafeBufferPointer { mask in
                NormalizationKernels.maskedMean(states.baseAddress!, mask: mask.baseAddress!,
                                                batch: batch, sequence: sequence, width: width)
            }
        }
        return Tensor(shape: [batch, width], scalars: pooled)
    }
}
