import ModelGraph
import QuantCore
import Runtime

/// A convolution as an AdaRound problem: its OHWI weight `[out, kh, kw, in/groups]` flattened
/// to `[out, kh·kw·in/groups]`, which is exactly the column order of an im2col row (window
/// row, window column, channel). Dense convolutions (one group) use the dense layout on rows of
/// `kh·kw·in` values; depthwise ones with one output per channel use the depthwise layout on
/// rows of `kh·kw·channels` values (`AdaRoundLayerData.Layout`).
struct AdaRoundConvolution: Sendable {
    let window: Window2D
    let inputChannels: Int
    let outputChannels: Int
    let depthwise: Bool

    /// Kernel positions `kh·kw`.
    var taps: Int { window.height * window.width }
    /// Floats per im2col row: every input channel at every tap.
    var rowWidth: Int { taps * inputChannels }
    /// Columns of the flattened weight.
    var weightColumns: Int { depthwise ? taps : taps * inputChannels }
    var layout: AdaRoundLayerData.Layout { depthwise ? .depthwise : .dense }

    /// The problem for `node`, or the reason it has none.
    static func make(_ node: Node) -> Result<AdaRoundConvolution, ConvolutionUnsupported> {
        guard case let .conv2d(attributes) = node.op, let weight = node.parameters["weight"], weight.rank == 4 else {
            return .failure(ConvolutionUnsupported(reason: "its weight is not a 4-D OHWI tensor"))
        }
        let outputs = weight.shape[0], perGroup = weight.shape[3], groups = attributes.groups
        let window = attributes.window
        guard weight.shape[1] == window.height, weight.shape[2] == window.width, groups >= 1 else {
            return .failure(ConvolutionUnsupported(reason: "its weight does not match its window"))
        }
        let inputs = perGroup * groups
        if groups == 1 {
            return .success(AdaRoundConvolution(window: window, inputChannels: inputs, outputChannels: outputs, depthwise: false))
        }
        if perGroup == 1 && outputs == groups {
            return .success(AdaRoundConvolution(window: window, inputChannels: inputs, outputChannels: outputs, depthwise: true))
        }
        return .failure(ConvolutionUnsupported(
            reason: "grouped convolutions other than depthwise with one output per channel are not supported (\(groups) groups, \(perGroup) inputs and \(outputs / groups) outputs per group)"))
    }

    struct ConvolutionUnsupported: Error { let reason: String }

    /// Output positions of one image of `height` × `width` pixels, or nil when the window does not fit.
    func placement(height: Int, width: Int) -> Window2D.Placement? {
        window.placement(inputHeight: height, inputWidth: width)
    }

    /// The sorted output positions (`y·outputWidth + x`) sampled from one image: all of them when
    /// there are at most `picks`, else `picks` distinct ones drawn by a seeded partial
    /// Fisher–Yates shuffle. The draw depends only on (seed, layer, sample, positions), so the
    /// fp32 and quantized passes read the same rows.
    static func positions(count: Int, picks: Int, seed: UInt64, layer: Int, sample: Int) -> [Int] {
        guard picks < count else { return Array(0..<count) }
        var generator = SeededGenerator(seed: seed ^ (UInt64(layer) &+ 1) &* 0x9E37_79B9_7F4A_7C15
                                        ^ (UInt64(sample) &+ 1) &* 0xBF58_476D_1CE4_E5B9)
        var order = Array(0..<count)
        for index in 0..<picks {
            let pick = index + Int(generator.next() % UInt64(count - index))
            order.swapAt(index, pick)
        }
        return order[0..<picks].sorted()
    }

    /// Appends the im2col rows of `positions` of one NHWC image (`image` points at its first
    /// pixel) to `rows`: for each position, the window's taps in (row, column) order, each
    /// with all channels, zeros where the window reads outside the image.
    func gatherRows(_ image: UnsafePointer<Float>, height: Int, width: Int, placement: Window2D.Placement,
                    positions: [Int], into rows: inout [Float]) {
        let channels = inputChannels
        rows.reserveCapacity(rows.count + positions.count * rowWidth)
        for position in positions {
            let outputY = position / placement.outputWidth, outputX = position % placement.outputWidth
            for kernelY in 0..<window.height {
                let inputY = outputY * window.strideHeight - placement.padTop + kernelY * window.dilationHeight
                for kernelX in 0..<window.width {
                    let inputX = outputX * window.strideWidth - placement.padLeft + kernelX * window.dilationWidth
                    if inputY >= 0, inputY < height, inputX >= 0, inputX < width {
                        let start = image + (inputY * width + inputX) * channels
                        rows.append(contentsOf: UnsafeBufferPointer(start: start, count: channels))
                    } else {
                        rows.append(contentsOf: repeatElement(0, count: channels))
                    }
                }
            }
        }
    }

    /// The layer's product (without bias) on `rows` im2col rows: `[rows, outputChannels]`.
    func product(_ inputs: [Float], rows: Int, weight: [Float], threads: Int) -> [Float] {
        var output = [Float](repeating: 0, count: rows * outputChannels)
        if depthwise {
            AdaRoundMath.depthwiseMultiply(inputs, rows: rows, weight, channels: outputChannels, taps: taps, into: &output, threads: threads)
        } else {
            AdaRoundMath.multiply(inputs, rows: rows, weight, outputs: outputChannels, inputs: weightColumns, into: &output, threads: threads)
        }
        return output
    }
}

/// Records, for chosen convolution layers, sampled im2col rows of their input value (a node's
/// output, or a graph input fed through `observe(feed:)`), image by image: either the rows
/// themselves or, to save memory, the fp32 layer's product on them (the AdaRound targets).
final class ConvolutionRowTap: ActivationTap, @unchecked Sendable {
    struct Slot {
        let layer: Int
        let convolution: AdaRoundConvolution
        /// Positions sampled per image, at most.
        let picks: Int
        /// With a weight the tap keeps `rows · weightᵀ` instead of the rows.
        let weight: [Float]?
        var values: [Float] = []
        var sampleRows: [Int] = []
        /// Positions per image of the input seen (for the report).
        var positionsPerSample = 0
    }

    let seed: UInt64
    let threads: Int
    /// Slots by the value their layer reads.
    var slots: [ValueID: [Slot]]
    /// Graph input names and their values.
    let graphInputs: [String: ValueID]
    var failure: String?

    init(slots: [Slot], sources: [ValueID], graph: Graph, seed: UInt64, threads: Int) {
        var byValue: [ValueID: [Slot]] = [:]
        for (slot, source) in zip(slots, sources) { byValue[source, default: []].append(slot) }
        self.slots = byValue
        self.seed = seed
        self.threads = threads
        graphInputs = Dictionary(uniqueKeysWithValues: graph.inputs.map { ($0.name, $0.value) })
    }

    /// Captures the graph inputs of one run (before it runs).
    func observe(feed: [String: Tensor]) {
        for (name, tensor) in feed.sorted(by: { $0.key < $1.key }) {
            guard let value = graphInputs[name] else { continue }
            capture(value: value, tensor: tensor)
        }
    }

    func nodeDidRun(_ node: Node, output: inout Tensor) { capture(value: node.output, tensor: output) }

    /// The slot of `layer`.
    func slot(layer: Int) -> Slot? { slots.values.joined().first { $0.layer == layer } }

    private func capture(value: ValueID, tensor: Tensor) {
        guard var list = slots.removeValue(forKey: value) else { return }
        defer { slots[value] = list }
        guard tensor.rank == 4 else {
            failure = "value \(value) is not an NHWC tensor (shape \(tensor.shape))"
            return
        }
        let (images, height, width, channels) = (tensor.shape[0], tensor.shape[1], tensor.shape[2], tensor.shape[3])
        tensor.scalars.withUnsafeBufferPointer { scalars in
            for index in list.indices {
                let convolution = list[index].convolution
                guard channels == convolution.inputChannels, let placement = convolution.placement(height: height, width: width) else {
                    failure = "value \(value) does not fit the convolution (shape \(tensor.shape))"
                    continue
                }
                let count = placement.outputHeight * placement.outputWidth
                list[index].positionsPerSample = count
                for image in 0..<images {
                    let sample = list[index].sampleRows.count
                    let positions = AdaRoundConvolution.positions(count: count, picks: list[index].picks, seed: seed,
                                                                   layer: list[index].layer, sample: sample)
                    var rows: [Float] = []
                    convolution.gatherRows(scalars.baseAddress! + image * height * width * channels, height: height, width: width,
                                           placement: placement, positions: positions, into: &rows)
                    if let weight = list[index].weight {
                        list[index].values += convolution.product(rows, rows: positions.count, weight: weight, threads: threads)
                    } else {
                        list[index].values += rows
                    }
                    list[index].sampleRows.append(positions.count)
                }
            }
        }
    }
}

/// Forwards every node to several taps, in order.
final class CombinedTap: ActivationTap, @unchecked Sendable {
    let taps: [ActivationTap]
    init(_ taps: [ActivationTap]) { self.taps = taps }
    func nodeDidRun(_ node: Node, output: inout Tensor) {
        for tap in taps { tap.nodeDidRun(node, output: &output) }
    }
}
