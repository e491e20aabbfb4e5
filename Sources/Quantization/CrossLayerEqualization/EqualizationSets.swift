import ModelGraph

/// A chain of layers that cross-layer equalization scales together: a pair `layer → layer`
/// or a depthwise-separable triplet `conv → depthwise → conv`, with what sits between them.
struct EqualizationSet {
    /// Node indices, in graph order (2 or 3).
    var layers: [Int]
    /// The activation node between `layers[k]` and `layers[k + 1]`, if any: ReLU, ReLU6 or a
    /// bounded ReLU (the last two clip, and their ceilings scale with the channel).
    var activations: [Int?]
}

/// Finds the equalization sets of a graph the way AIMET does: maximal chains of conv /
/// linear layers joined through single-use edges with at most one ReLU, ReLU6 or bounded ReLU
/// between, cut into triplets (dense conv → depthwise → dense conv) where possible and pairs
/// otherwise. A layer may end one set and start the next, which is why scaling iterates.
struct EqualizationSetFinder {
    enum LayerKind: Equatable {
        case dense
        case depthwise
        case unsupported(String)
    }

    private enum Link {
        /// The next layer (node index) and the ReLU between, if any.
        case next(Int, activation: Int?)
        /// The chain stops here for a reason worth reporting.
        case blocked(String)
        /// The layer's output is a graph output (nothing to scale against).
        case end
    }

    let graph: Graph
    private let readers: GraphReaders

    init(graph: Graph) {
        self.graph = graph
        self.readers = GraphReaders(graph)
    }

    /// The kind of a conv / linear node for CLE.
    func kind(of index: Int) -> LayerKind {
        let node = graph.nodes[index]
        switch node.op {
        case .linear:
            return .dense
        case let .conv2d(attributes):
            if attributes.groups == 1 { return .dense }
            guard let weight = node.parameters["weight"], weight.rank == 4 else { return .unsupported("has no 4-D weight") }
            if weight.shape[3] == 1 && weight.shape[0] == attributes.groups { return .depthwise }
            return .unsupported("is a grouped convolution (\(attributes.groups) groups) that is not depthwise with multiplier 1")
        default:
            return .unsupported("is a \(node.op.kindName)")
        }
    }

    /// What follows the layer at `index`.
    private func link(from index: Int) -> Link {
        var value = graph.nodes[index].output
        var activation: Int?
        while true {
            if readers.isGraphOutput(value) { return activation == nil ? .end : .blocked("its output is a graph output") }
            let uses = readers.of(value)
            guard uses.count == 1 else {
                let names = uses.map { graph.nodes[$0].name }.joined(separator: ", ")
                return .blocked("its output branches to \(uses.count) readers (\(names)), so no single next layer can absorb the scale")
            }
            let reader = graph.nodes[uses[0]]
            switch reader.op {
            case .activation(.relu), .activation(.relu6), .boundedReLU:
                guard activation == nil else { return .blocked("two activations follow it (\(graph.nodes[activation!].name), \(reader.name))") }
                activation = uses[0]
                value = reader.output
            case let .activation(kind):
                return .blocked("the activation \(kind.rawValue) \(reader.name) does not commute with per-channel scaling")
            case .conv2d, .linear:
                guard reader.inputs.count == 1, reader.inputs[0] == value else {
                    return .blocked("\(reader.name) reads it as a secondary input")
                }
                return .next(uses[0], activation: activation)
            default:
                return .blocked("its output goes to \(reader.op.kindName) \(reader.name), which CLE does not scale through")
            }
        }
    }

    /// The sets to scale, in graph order, and what was skipped (layer names, reason).
    func find() -> (sets: [EqualizationSet], skipped: [(layers: [String], reason: String)]) {
        var next: [Int: (Int, Int?)] = [:]
        var skipped: [(layers: [String], reason: String)] = []
        for index in graph.nodes.indices where graph.nodes[index].op.isConvolutionOrLinear {
            switch link(from: index) {
            case let .next(target, activation): next[index] = (target, activation)
            case let .blocked(reason): skipped.append(([graph.nodes[index].name], reason))
            case .end: break
            }
        }
        let targets = Set(next.values.map(\.0))
        var sets: [EqualizationSet] = []
        for start in graph.nodes.indices where graph.nodes[start].op.isConvolutionOrLinear && !targets.contains(start) {
            var chain = [start]
            var activations: [Int?] = []
            while let link = next[chain.last!] {
                chain.append(link.0)
                activations.append(link.1)
            }
            var position = 0
            while position + 1 < chain.count {
                let first = kind(of: chain[position]), second = kind(of: chain[position + 1])
                let names = [graph.nodes[chain[position]].name, graph.nodes[chain[position + 1]].name]
                if case let .unsupported(why) = first {
                    skipped.append((names, "\(names[0]) \(why)"))
                    position += 1
                    continue
                }
                if case let .unsupported(why) = second {
                    skipped.append((names, "\(names[1]) \(why)"))
                    position += 1
                    continue
                }
                if first == .dense, second == .depthwise, position + 2 < chain.count, kind(of: chain[position + 2]) == .dense {
                    sets.append(EqualizationSet(layers: Array(chain[position...position + 2]),
                                                activations: Array(activations[position...position + 1])))
                    position += 2
                } else {
                    sets.append(EqualizationSet(layers: [chain[position], chain[position + 1]], activations: [activations[position]]))
                    position += 1
                }
            }
        }
        sets.sort { $0.layers[0] < $1.layers[0] }
        return (sets, skipped)
    }
}
