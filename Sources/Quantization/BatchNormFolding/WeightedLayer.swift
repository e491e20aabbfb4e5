import ModelGraph
import QuantCore

/// A convolution or linear layer's weight seen as `[out, taps, in / groups]` (OHWI with the
/// kernel window flattened into `taps`; a linear layer is one tap and one group), with the
/// channel arithmetic the graph techniques share: per-channel ranges, scaling of output and
/// input channels, and the response of the weight to a per-input-channel constant.
///
/// Works in `Double` so that repeated rescaling (cross-layer equalization iterates) adds no
/// float32 rounding per step; `tensors()` rounds once at the end.
struct WeightedLayer {
    let name: String
    let outputChannels: Int
    /// Kernel positions (height · width); 1 for linear layers.
    let taps: Int
    /// Input channels each output channel sees (`in / groups`).
    let inputsPerGroup: Int
    let groups: Int
    /// True when the layer zero-pads its input (a conv whose window needs padding): shifting
    /// its input by a constant is then not exactly a change of its bias.
    let padsInput: Bool
    var weight: [Double]
    /// The bias, zeros when the layer had none (`hadBias` says which).
    var bias: [Double]
    let hadBias: Bool

    var inputChannels: Int { inputsPerGroup * groups }
    var outputsPerGroup: Int { outputChannels / groups }

    /// True for a depthwise convolution with one output per input channel.
    var isDepthwise: Bool { groups > 1 && inputsPerGroup == 1 && outputChannels == groups }

    /// Reads the weight (and bias) of a conv2d or linear node; throws for any other op or a
    /// malformed weight.
    init(_ node: Node, technique: String) throws {
        func invalid(_ reason: String) -> QuantizationPipelineError {
            .invalidTechniqueInput(technique: technique, node: node.name, reason: reason)
        }
        guard let weight = node.parameters["weight"] else { throw invalid("has no weight") }
        switch node.op {
        case let .conv2d(attributes):
            let window = attributes.window
            guard weight.rank == 4, weight.shape[1] == window.height, weight.shape[2] == window.width,
                  attributes.groups >= 1, weight.shape[0] % attributes.groups == 0 else {
                throw invalid("weight \(weight.shape) is not [out, \(window.height), \(window.width), in/groups] for \(attributes.groups) groups")
            }
            taps = weight.shape[1] * weight.shape[2]
            inputsPerGroup = weight.shape[3]
            groups = attributes.groups
            padsInput = WeightedLayer.windowPads(window)
        case .linear:
            guard weight.rank == 2 else { throw invalid("weight \(weight.shape) is not [out, in]") }
            taps = 1
            inputsPerGroup = weight.shape[1]
            groups = 1
            padsInput = false
        default:
            throw invalid("is a \(node.op.kindName), not a conv2d or linear layer")
        }
        name = node.name
        outputChannels = weight.shape[0]
        guard weight.scalars.allSatisfy(\.isFinite) else { throw invalid("weight contains NaN or infinity") }
        self.weight = weight.scalars.map(Double.init)
        if let bias = node.parameters["bias"] {
            guard bias.shape == [outputChannels] else { throw invalid("bias \(bias.shape) is not [\(outputChannels)]") }
            self.bias = bias.scalars.map(Double.init)
            hadBias = true
        } else {
            self.bias = [Double](repeating: 0, count: outputChannels)
            hadBias = false
        }
    }

    /// Whether a window zero-pads its input for some input size. "SAME" pads unless the
    /// window is a single pixel.
    static func windowPads(_ window: Window2D) -> Bool {
        switch window.padding {
        case let .explicit(top, bottom, left, right):
            return top != 0 || bottom != 0 || left != 0 || right != 0
        case .same:
            return window.height > 1 || window.width > 1
        }
    }

    /// The input channel read by weight column `column` (index inside the group) of output
    /// channel `output`.
    @inline(__always)
    func inputChannel(output: Int, column: Int) -> Int {
        (output / outputsPerGroup) * inputsPerGroup + column
    }

    /// max |w| over each output channel's weights.
    func outputRanges() -> [Double] {
        let rowLength = taps * inputsPerGroup
        return (0..<outputChannels).map { output in
            var largest = 0.0
            for index in output * rowLength..<(output + 1) * rowLength { largest = max(largest, abs(weight[index])) }
            return largest
        }
    }

    /// max |w| over the weights that read each input channel.
    func inputRanges() -> [Double] {
        var ranges = [Double](repeating: 0, count: inputChannels)
        for output in 0..<outputChannels {
            for tap in 0..<taps {
                let base = (output * taps + tap) * inputsPerGroup
                for column in 0..<inputsPerGroup {
                    let channel = inputChannel(output: output, column: column)
                    ranges[channel] = max(ranges[channel], abs(weight[base + column]))
                }
            }
        }
        return ranges
    }

    /// Multiplies output channel `o`'s weights and bias by `factors[o]`.
    mutating func scaleOutputs(by factors: [Double]) {
        precondition(factors.count == outputChannels)
        let rowLength = taps * inputsPerGroup
        for output in 0..<outputChannels {
            for index in output * rowLength..<(output + 1) * rowLength { weight[index] *= factors[output] }
            bias[output] *= factors[output]
        }
    }

    /// Multiplies the weights that read input channel `c` by `factors[c]`.
    mutating func scaleInputs(by factors: [Double]) {
        precondition(factors.count == inputChannels)
        for output in 0..<outputChannels {
            for tap in 0..<taps {
                let base = (output * taps + tap) * inputsPerGroup
                for column in 0..<inputsPerGroup {
                    weight[base + column] *= factors[inputChannel(output: output, column: column)]
                }
            }
        }
    }

    /// The layer's response to an input that is `constant[c]` everywhere in channel `c`
    /// (ignoring padding): `Σ_taps,columns w · constant`, per output channel.
    func response(toConstantInput constant: [Double]) -> [Double] {
        precondition(constant.count == inputChannels)
        return (0..<outputChannels).map { output in
            var sum = 0.0
            for tap in 0..<taps {
                let base = (output * taps + tap) * inputsPerGroup
                for column in 0..<inputsPerGroup {
                    sum += weight[base + column] * constant[inputChannel(output: output, column: column)]
                }
            }
            return sum
        }
    }

    /// Writes the weight and bias back into `node` (float32, shapes unchanged). A layer that
    /// had no bias gets one (named `<node>.bias` in `parameterSources`) when `addsBias`.
    func store(into node: inout Node, addsBias: Bool) {
        let shape = node.parameters["weight"]!.shape
        node.parameters["weight"] = Tensor(shape: shape, scalars: weight.map(Float.init))
        if hadBias || addsBias {
            node.parameters["bias"] = Tensor(shape: [outputChannels], scalars: bias.map(Float.init))
            if node.parameterSources["bias"] == nil { node.parameterSources["bias"] = "\(node.name).bias" }
        }
    }
}

/// Who reads each value of a graph, in graph order (a node reading a value twice appears
/// twice, so "one reader" really means one use).
struct GraphReaders {
    private var readers: [ValueID: [Int]] = [:]
    private let outputs: Set<ValueID>

    init(_ graph: Graph) {
        for (index, node) in graph.nodes.enumerated() {
            for input in node.inputs { readers[input, default: []].append(index) }
        }
        outputs = Set(graph.outputs)
    }

    /// Indices of the nodes reading `value` (one entry per use).
    func of(_ value: ValueID) -> [Int] { readers[value] ?? [] }

    /// True when `value` is one of the graph's outputs.
    func isGraphOutput(_ value: ValueID) -> Bool { outputs.contains(value) }
}
