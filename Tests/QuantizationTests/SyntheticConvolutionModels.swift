import Foundation
import ModelGraph
import QuantCore
import Quantization
import Runtime

/// Small seeded CNNs shaped like MobileNetV2 (conv → BN → ReLU6, inverted residual blocks:
/// 1×1 expand → 3×3 depthwise → 1×1 project with a residual add, global pool, linear head),
/// for the graph-technique tests. Batch-norm statistics are measured on the model's own
/// calibration inputs (so a BN really normalises its input), and BN scales γ are spread
/// log-uniformly over two decades, so folded weights have per-channel ranges differing by
/// ~100× like real MobileNetV2's, which is what makes per-tensor quantization hard.
enum SyntheticModels {
    struct Model {
        var graph: Graph
        /// Inputs the BN statistics (and calibration) come from.
        var calibration: [[String: Tensor]]
        /// Other inputs from the same distribution.
        var evaluation: [[String: Tensor]]
    }

    /// Normally distributed values (Box–Muller on a seeded generator).
    static func normals(_ count: Int, scale: Float = 1, using generator: inout SeededGenerator) -> [Float] {
        (0..<count).map { _ in
            let u = Double.random(in: Double.ulpOfOne..<1, using: &generator), v = Double.random(in: 0..<1, using: &generator)
            return scale * Float((-2 * log(u)).squareRoot() * cos(2 * Double.pi * v))
        }
    }

    /// Image batches `[batch, size, size, 3]` of standard normal pixels.
    static func images(batches: Int, batch: Int, size: Int, seed: UInt64) -> [[String: Tensor]] {
        var generator = SeededGenerator(seed: seed)
        return (0..<batches).map { _ in
            ["image": Tensor(shape: [batch, size, size, 3], scalars: normals(batch * size * size * 3, using: &generator))]
        }
    }

    /// Builds layers with seeded weights.
    struct LayerFactory {
        var builder = GraphBuilder()
        var generator: SeededGenerator

        init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

        mutating func conv(_ name: String, _ input: ValueID, inputs: Int, outputs: Int, kernel: Int, stride: Int = 1,
                           groups: Int = 1, padding: Padding2D? = nil, bias: Bool = false) -> ValueID {
            let perGroup = inputs / groups
            let fanIn = Float(kernel * kernel * perGroup)
            let weight = Tensor(shape: [outputs, kernel, kernel, perGroup],
                                scalars: normals(outputs * kernel * kernel * perGroup, scale: (2 / fanIn).squareRoot(), using: &generator))
            var parameters = ["weight": weight]
            var sources = ["weight": "\(name).weight"]
            if bias {
                parameters["bias"] = Tensor(shape: [outputs], scalars: normals(outputs, scale: 0.1, using: &generator))
                sources["bias"] = "\(name).bias"
            }
            let window = Window2D(height: kernel, width: kernel, strideHeight: stride, strideWidth: stride,
                                  padding: padding ?? .symmetric(kernel / 2, kernel / 2))
            return builder.add(name, .conv2d(Convolution2DAttributes(window: window, groups: groups)), inputs: [input],
                               parameters: parameters, sources: sources)
        }

        mutating func linear(_ name: String, _ input: ValueID, inputs: Int, outputs: Int, bias: Bool = true) -> ValueID {
            var parameters = ["weight": Tensor(shape: [outputs, inputs],
                                               scalars: normals(outputs * inputs, scale: (1 / Float(inputs)).squareRoot(), using: &generator))]
            var sources = ["weight": "\(name).weight"]
            if bias {
                parameters["bias"] = Tensor(shape: [outputs], scalars: normals(outputs, scale: 0.1, using: &generator))
                sources["bias"] = "\(name).bias"
            }
            return builder.add(name, .linear, inputs: [input], parameters: parameters, sources: sources)
        }

        /// A batch norm with γ log-uniform in [0.01, 1] (random sign on a few), β uniform in
        /// [−0.5, 1.5], and placeholder statistics (set later from data).
        mutating func batchNorm(_ name: String, _ input: ValueID, channels: Int) -> ValueID {
            let gamma = (0..<channels).map { _ -> Float in
                let magnitude = Float(pow(10, Double.random(in: -2...0, using: &generator)))
                return Double.random(in: 0..<1, using: &generator) < 0.1 ? -magnitude : magnitude
            }
            let beta = (0..<channels).map { _ in Float.random(in: -0.5...1.5, using: &generator) }
            let parameters = ["weight": Tensor(shape: [channels], scalars: gamma),
                              "bias": Tensor(shape: [channels], scalars: beta),
                              "mean": Tensor(zeros: [channels]),
                              "variance": Tensor(shape: [channels], scalars: [Float](repeating: 1, count: channels))]
            return builder.add(name, .batchNorm(epsilon: 1e-5), inputs: [input], parameters: parameters,
                               sources: ["weight": "\(name).weight", "bias": "\(name).bias"])
        }

        mutating func activation(_ name: String, _ kind: ActivationKind, _ input: ValueID) -> ValueID {
            builder.add(name, .activation(kind), inputs: [input])
        }

        /// conv → BN → activation (the activation skipped when nil).
        mutating func convBlock(_ name: String, _ input: ValueID, inputs: Int, outputs: Int, kernel: Int, stride: Int = 1,
                                groups: Int = 1, activation: ActivationKind? = .relu6) -> ValueID {
            var value = conv("\(name).conv", input, inputs: inputs, outputs: outputs, kernel: kernel, stride: stride, groups: groups)
            value = batchNorm("\(name).bn", value, channels: outputs)
            if let activation { value = self.activation("\(name).act", activation, value) }
            return value
        }
    }

    /// The MobileNetV2-like model: stem, a t=1 block, a strided t=4 block, a residual t=4
    /// block, a 1×1 head conv, global average pool and a linear classifier.
    static func mobileNetLike(seed: UInt64 = 7, imageSize: Int = 16) throws -> Model {
        var factory = LayerFactory(seed: seed)
        let image = factory.builder.input("image")
        var value = factory.convBlock("stem", image, inputs: 3, outputs: 16, kernel: 3, stride: 2)
        value = factory.convBlock("block1.depthwise", value, inputs: 16, outputs: 16, kernel: 3, groups: 16)
        value = factory.convBlock("block1.project", value, inputs: 16, outputs: 8, kernel: 1, activation: nil)
        value = factory.convBlock("block2.expand", value, inputs: 8, outputs: 32, kernel: 1)
        value = factory.convBlock("block2.depthwise", value, inputs: 32, outputs: 32, kernel: 3, stride: 2, groups: 32)
        let shortcut = factory.convBlock("block2.project", value, inputs: 32, outputs: 12, kernel: 1, activation: nil)
        value = factory.convBlock("block3.expand", shortcut, inputs: 12, outputs: 48, kernel: 1)
        value = factory.convBlock("block3.depthwise", value, inputs: 48, outputs: 48, kernel: 3, groups: 48)
        value = factory.convBlock("block3.project", value, inputs: 48, outputs: 12, kernel: 1, activation: nil)
        value = factory.builder.add("block3.add", .add, inputs: [shortcut, value])
        value = factory.convBlock("head", value, inputs: 12, outputs: 64, kernel: 1)
        value = factory.builder.add("pool", .globalAveragePool, inputs: [value])
        value = factory.linear("classifier", value, inputs: 64, outputs: 10)
        let graph = try factory.builder.finish(outputs: [value])
        let calibration = images(batches: 4, batch: 4, size: imageSize, seed: seed &+ 1)
        let evaluation = images(batches: 4, batch: 4, size: imageSize, seed: seed &+ 2)
        return Model(graph: try calibrateBatchNorms(graph, inputs: calibration), calibration: calibration, evaluation: evaluation)
    }

    /// Sets every batch norm's mean and variance to the statistics of its input on `inputs`,
    /// in graph order (each measured with the earlier ones already set).
    static func calibrateBatchNorms(_ graph: Graph, inputs: [[String: Tensor]]) throws -> Graph {
        var result = graph
        for index in result.nodes.indices {
            guard case .batchNorm = result.nodes[index].op, let producer = result.producer(of: result.nodes[index].inputs[0]) else { continue }
            let tap = MomentsTap(node: producer.name)
            let executor = GraphExecutor(graph: result, threads: 1)
            for input in inputs { _ = try executor.run(inputs: input, tap: tap) }
            let channels = tap.sums.count
            let count = Double(tap.count)
            let means = tap.sums.map { $0 / count }
            let variances = (0..<channels).map { max(tap.squares[$0] / count - means[$0] * means[$0], 1e-6) }
            result.nodes[index].parameters["mean"] = Tensor(shape: [channels], scalars: means.map(Float.init))
            result.nodes[index].parameters["variance"] = Tensor(shape: [channels], scalars: variances.map(Float.init))
        }
        return result
    }

    /// Per-channel sums and sums of squares of one node's output.
    final class MomentsTap: ActivationTap {
        let node: String
        var sums: [Double] = []
        var squares: [Double] = []
        var count = 0

        init(node: String) { self.node = node }

        func nodeDidRun(_ node: Node, output: inout Tensor) {
            guard node.name == self.node, let channels = output.shape.last else { return }
            if sums.isEmpty {
                sums = [Double](repeating: 0, count: channels)
                squares = sums
            }
            for (offset, value) in output.scalars.enumerated() {
                sums[offset % channels] += Double(value)
                squares[offset % channels] += Double(value) * Double(value)
            }
            count += output.count / channels
        }
    }

    /// All outputs of `graph` on `inputs`, concatenated in order.
    static func outputs(of graph: Graph, on inputs: [[String: Tensor]], threads: Int = 2, tap: ActivationTap? = nil) throws -> [Float] {
        let executor = GraphExecutor(graph: graph, threads: threads)
        var result: [Float] = []
        for input in inputs { result += try executor.run(inputs: input, tap: tap).flatMap(\.scalars) }
        return result
    }

    /// max |a − b| / max |a|.
    static func relativeMaximumDifference(_ reference: [Float], _ other: [Float]) -> Double {
        let difference = zip(reference, other).map { Double(abs($0 - $1)) }.max() ?? 0
        let scale = reference.map { Double(abs($0)) }.max() ?? 0
        return difference / max(scale, .leastNormalMagnitude)
    }

    /// Weight encodings (by weight source) of every conv / linear layer.
    static func weightEncodings(_ graph: Graph, scheme: QuantScheme) throws -> [String: Encoding] {
        var encodings: [String: Encoding] = [:]
        for node in graph.nodes where node.op.hasQuantizableWeight {
            guard let source = node.parameterSources["weight"], let weight = node.parameters["weight"] else { continue }
            encodings[source] = try RangeEstimator.minMax.encoding(of: weight, scheme: scheme, tensorName: source)
        }
        return encodings
    }

    /// Per-tensor min-max activation encodings of the named nodes' outputs, measured on `inputs`.
    static func activationEncodings(_ graph: Graph, nodes: [String], inputs: [[String: Tensor]], bits: Int = 8) throws -> [String: Encoding] {
        final class RangeTap: ActivationTap {
            var observers: [String: RangeObserver]
            var failure: Error?
            init(_ observers: [String: RangeObserver]) { self.observers = observers }
            func nodeDidRun(_ node: Node, output: inout Tensor) {
                guard observers[node.name] != nil else { return }
                do { try observers[node.name]!.observe(output) } catch { failure = error }
            }
        }
        var observers: [String: RangeObserver] = [:]
        for node in nodes { observers[node] = try RangeObserver(tensorName: node) }
        let tap = RangeTap(observers)
        _ = try outputs(of: graph, on: inputs, tap: tap)
        if let failure = tap.failure { throw failure }
        let scheme = try QuantScheme(bits: bits, symmetry: .asymmetric, granularity: .perTensor)
        return try tap.observers.mapValues { try $0.encoding(scheme: scheme, estimator: .minMax) }
    }
}
