import QuantCore

/// Identifies a value (a tensor flowing between nodes) inside one graph.
public struct ValueID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public static func < (lhs: ValueID, rhs: ValueID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "%\(rawValue)" }
}

/// One operation of a graph: what it does, what it reads and writes, and its weights.
public struct Node: Sendable, Equatable {
    /// A unique name, e.g. `encoder.layer.0.attention.self.query` (the weights' prefix).
    public var name: String
    public var op: Op
    public var inputs: [ValueID]
    public var output: ValueID
    /// Weights by role (`weight`, `bias`).
    public var parameters: [String: Tensor]
    /// The checkpoint name each parameter came from (`weight` → `….query.weight`).
    public var parameterSources: [String: String]

    public init(name: String, op: Op, inputs: [ValueID], output: ValueID,
                parameters: [String: Tensor] = [:], parameterSources: [String: String] = [:]) {
        self.name = name
        self.op = op
        self.inputs = inputs
        self.output = output
        self.parameters = parameters
        self.parameterSources = parameterSources
    }
}

/// A named input of a graph (token ids, attention mask, ...).
public struct GraphInput: Sendable, Equatable {
    public var name: String
    public var value: ValueID
    public init(name: String, value: ValueID) {
        self.name = name
        self.value = value
    }
}

/// A model as a topologically ordered list of nodes. Passes walk `nodes` in order and may
/// rewrite them; `validate()` checks the ordering invariant.
public struct Graph: Sendable, Equatable {
    public var inputs: [GraphInput]
    public var nodes: [Node]
    public var outputs: [ValueID]

    public init(inputs: [GraphInput], nodes: [Node], outputs: [ValueID]) {
        self.inputs = inputs
        self.nodes = nodes
        self.outputs = outputs
    }

    /// The node called `name`.
    public func node(named name: String) -> Node? {
        nodes.first { $0.name == name }
    }

    /// The node producing `value`, if any (graph inputs have none).
    public func producer(of value: ValueID) -> Node? {
        nodes.first { $0.output == value }
    }

    /// Checks that node names are unique, every value is produced once, and every input
    /// is produced (by a graph input or an earlier node) before it is read.
    public func validate() throws {
        var defined = Set(inputs.map(\.value))
        var names = Set<String>()
        for node in nodes {
            guard names.insert(node.name).inserted else {
                throw ModelGraphError.invalidGraph(node: node.name, reason: "duplicate node name")
            }
            for input in node.inputs where !defined.contains(input) {
                throw ModelGraphError.invalidGraph(node: node.name, reason: "reads \(input) before it is produced")
            }
            guard defined.insert(node.output).inserted else {
                throw ModelGraphError.invalidGraph(node: node.name, reason: "writes \(node.output), which is already defined")
            }
        }
        for output in outputs where !defined.contains(output) {
            throw ModelGraphError.invalidGraph(node: "<outputs>", reason: "graph output \(output) is never produced")
        }
    }

    /// For each value, the index of the last node that reads it (graph outputs never die).
    /// Lets an executor free intermediate values early.
    public func lastUses() -> [ValueID: Int] {
        var last: [ValueID: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for input in node.inputs { last[input] = index }
        }
        for output in outputs { last[output] = Int.max }
        return last
    }
}

/// Builds graphs node by node, handing out fresh value ids.
public struct GraphBuilder {
    private var nextValue = 0
    public private(set) var inputs: [GraphInput] = []
    public private(set) var nodes: [Node] = []

    public init() {}

    /// Declares a graph input and returns its value.
    public mutating func input(_ name: String) -> ValueID {
        let value = fresh()
        inputs.append(GraphInput(name: name, value: value))
        return value
    }

    /// Appends a node and returns its output value.
    @discardableResult
    public mutating func add(_ name: String, _ op: Op, inputs: [ValueID],
                             parameters: [String: Tensor] = [:], sources: [String: String] = [:]) -> ValueID {
        let value = fresh()
        nodes.append(Node(name: name, op: op, inputs: inputs, output: value, parameters: parameters, parameterSources: sources))
        return value
    }

    /// The finished graph, validated.
    public func finish(outputs: [ValueID]) throws -> Graph {
        let graph = Graph(inputs: inputs, nodes: nodes, outputs: outputs)
        try graph.validate()
        return graph
    }

    private mutating func fresh() -> ValueID {
        defer { nextValue += 1 }
        return ValueID(nextValue)
    }
}
