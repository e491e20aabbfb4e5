import AimetTestSupport
import Foundation
@testable import ModelGraph
import ModelIO
import QuantCore
import Testing

@Suite("Keras front end: graph structure and bad input")
struct KerasModelTests {
    // MARK: Structure

    @Test func ferGraphFollowsTheKerasLayers() throws {
        let path = KerasGoldens.modelPath("fer")
        try #require(FileManager.default.fileExists(atPath: path), "\(path) is missing: run `make models`")
        let model = try KerasModel.load(path: path)
        #expect(model.modelClass == "Model")
        #expect(model.inputName == "input_1")
        #expect(model.inputShape(batch: 3) == [3, 64, 64, 1])
        #expect(model.outputLayers == ["predictions"])
        // 46 layers − the input + one extra node for each of the 8 SeparableConv2D.
        #expect(model.graph.nodes.count == 53)
        let first = try #require(model.graph.node(named: "conv2d_1"))
        #expect(first.parameters["weight"]?.shape == [8, 3, 3, 1])
        #expect(first.parameters["bias"] == nil)
        #expect(first.parameterSources == ["weight": "conv2d_1_1/kernel:0"])
        let depthwise = try #require(model.graph.node(named: "separable_conv2d_1.depthwise"))
        #expect(depthwise.op == .conv2d(Convolution2DAttributes(window: Window2D(height: 3, width: 3, padding: .same), groups: 8)))
        #expect(depthwise.parameters["weight"]?.shape == [8, 3, 3, 1])
        #expect(depthwise.parameterSources["weight"] == "separable_conv2d_1_1/depthwise_kernel:0")
        let pointwise = try #require(model.graph.node(named: "separable_conv2d_1.pointwise"))
        #expect(pointwise.parameters["weight"]?.shape == [16, 1, 1, 8])
        #expect(pointwise.inputs == [depthwise.output])
        let pool = try #require(model.graph.node(named: "max_pooling2d_1"))
        #expect(pool.op == .pool2d(Pool2DAttributes(kind: .max, window: Window2D(height: 3, width: 3, strideHeight: 2, strideWidth: 2, padding: .same))))
        let batchNorm = try #require(model.graph.node(named: "batch_normalization_1"))
        #expect(batchNorm.op == .batchNorm(epsilon: 0.001))
        #expect(Set(batchNorm.parameterSources.keys) == ["weight", "bias", "mean", "variance"])
        #expect(model.graph.node(named: "add_1")?.inputs.count == 2)
        // Every weight of the file is in the graph once.
        let parameters = model.graph.nodes.flatMap { node in node.parameterSources.keys.map { node.parameters[$0]!.count } }
        #expect(parameters.reduce(0, +) == 58_423)
        print("keras fer notes: \(model.notes.joined(separator: " | "))")
    }

    @Test func kernelsAreTransposedIntoTheIRLayouts() throws {
        let convolution = Tensor(shape: [2, 1, 3, 2], scalars: (0..<12).map(Float.init))  // HWIO
        let ohwi = KerasWeightLayout.convolutionKernel(convolution)
        #expect(ohwi.shape == [2, 2, 1, 3])
        // OHWI[o][h][0][i] = HWIO[h][0][i][o] = ((h·3 + i)·2 + o)
        #expect(ohwi.scalars == [0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11])
        let depthwise = Tensor(shape: [1, 2, 2, 3], scalars: (0..<12).map(Float.init))  // [kh, kw, in, multiplier]
        let grouped = KerasWeightLayout.depthwiseKernel(depthwise)
        #expect(grouped.shape == [6, 1, 2, 1])
        // output channel c·3 + m, tap w: kernel[0][w][c][m] = (w·2 + c)·3 + m
        #expect(grouped.scalars == [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11])
        let dense = KerasWeightLayout.denseKernel(Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        #expect(dense == Tensor(shape: [3, 2], scalars: [1, 4, 2, 5, 3, 6]))
    }

    @Test func syntheticModelsSplitAndDropLayersAsDocumented() throws {
        let functional = try KerasModel.load(path: KerasGoldens.modelPath("functional-add"))
        #expect(functional.graph.node(named: "stem.activation")?.op == .activation(.relu))
        #expect(functional.graph.node(named: "stem_bn")?.parameterSources["bias"] == nil)
        #expect(functional.graph.node(named: "stem_bn")?.parameters["bias"]?.scalars == [Float](repeating: 0, count: 6))
        #expect(functional.graph.node(named: "branch_relu6")?.op == .activation(.relu6))
        #expect(functional.graph.node(named: "dropout") == nil)
        #expect(functional.notes.contains { $0.hasPrefix("dropout: Dropout is the identity") })
        #expect(functional.logitsNode()?.name == "logits")
        let sequential = try KerasModel.load(path: KerasGoldens.modelPath("sequential-depthwise"))
        let depthwise = try #require(sequential.graph.node(named: "depthwise"))
        #expect(depthwise.parameters["weight"]?.shape == [4, 3, 3, 1])
        #expect(depthwise.op == .conv2d(Convolution2DAttributes(window: Window2D(height: 3, width: 3, padding: .same), groups: 2)))
        let average = try #require(sequential.graph.node(named: "average"))
        #expect(average.op == .pool2d(Pool2DAttributes(
            kind: .average, window: Window2D(height: 3, width: 3, strideHeight: 2, strideWidth: 2, padding: .same), countsPadding: false)))
        #expect(sequential.graph.node(named: "separable.pointwise")?.parameterSources["bias"] == "separable/bias:0")
        #expect(sequential.graph.node(named: "classifier.activation")?.op == .softmax)
    }

    /// Keras 3 writes `inbound_nodes` as `{"args": [...], "kwargs": {}}` with
    /// `keras_history` leaves; the graph must come out the same.
    @Test func keras3InboundNodesBuildTheSameGraph() throws {
        let store = try HDF5Store(path: KerasGoldens.modelPath("functional-add"))
        var config = try #require(store.modelConfig)
        for name in ["stem", "stem_bn", "branch_conv", "branch_relu6", "merge", "pool", "flatten", "logits", "dropout", "probabilities"] {
            config = try Self.changing(config, layer: name) { _, entry in
                let sources = entry["inbound_nodes"]!.arrayValue![0].arrayValue!.map { $0.arrayValue![0] }
                let tensors = sources.map { source in
                    JSONValue.object(JSONObject([
                        ("class_name", .string("__keras_tensor__")),
                        ("config", .object(JSONObject([("shape", .null), ("keras_history", .array([source, .integer(0), .integer(0)]))]))),
                    ]))
                }
                let arguments: JSONValue = tensors.count == 1 ? tensors[0] : .array(tensors)
                entry["inbound_nodes"] = .array([.object(JSONObject([("args", .array([arguments])), ("kwargs", .object(JSONObject()))]))])
            }
        }
        let keras3 = try KerasModel(store: store, modelConfig: config)
        let keras2 = try KerasModel(store: store)
        #expect(keras3.graph == keras2.graph)
        #expect(keras3.graph.node(named: "merge")?.inputs.count == 2)
    }

    // MARK: Bad input

    /// A change to one layer of functional-add's config and the error it must cause.
    struct Mutation: CustomTestStringConvertible, Sendable {
        let label: String
        let layer: String
        let change: @Sendable (inout JSONObject) -> Void
        let expected: @Sendable (String) -> ModelGraphError?
        var testDescription: String { label }
    }

    static let mutations: [Mutation] = [
        Mutation(label: "channels_first", layer: "stem", change: { $0["data_format"] = .string("channels_first") },
                 expected: { _ in nil }),
        Mutation(label: "unsupported activation", layer: "stem", change: { $0["activation"] = .string("elu") }, expected: { _ in nil }),
        Mutation(label: "unsupported padding", layer: "pool", change: { $0["padding"] = .string("causal") }, expected: { _ in nil }),
        Mutation(label: "batch norm over axis 1", layer: "stem_bn", change: { $0["axis"] = .integer(1) }, expected: { _ in nil }),
        Mutation(label: "leaky ReLU", layer: "branch_relu6", change: { $0["negative_slope"] = .double(0.1) }, expected: { _ in nil }),
        Mutation(label: "missing bias", layer: "branch_conv", change: { $0["use_bias"] = .bool(true) },
                 expected: { .missingWeight(path: $0, tensor: "branch_conv/bias") }),
        Mutation(label: "wrong filter count", layer: "branch_conv", change: { $0["filters"] = .integer(7) },
                 expected: { .shapeMismatch(path: $0, tensor: "branch_conv/kernel:0", expected: [3, 3, 6, 7], actual: [3, 3, 6, 6]) }),
    ]

    @Test(arguments: mutations)
    func badLayerConfigurationIsATypedErrorNamingTheLayer(_ mutation: Mutation) throws {
        let path = KerasGoldens.modelPath("functional-add")
        let store = try HDF5Store(path: path)
        let config = try Self.changing(store.modelConfig, layer: mutation.layer) { config, _ in mutation.change(&config) }
        do {
            _ = try KerasModel(store: store, modelConfig: config)
            Issue.record("\(mutation.label): the model loaded")
        } catch let error as ModelGraphError {
            if let expected = mutation.expected(path) {
                #expect(error == expected)
            } else {
                guard case let .unsupportedLayer(errorPath, layer, reason) = error else {
                    Issue.record("\(mutation.label): \(error)")
                    return
                }
                #expect(errorPath == path)
                #expect(layer == mutation.layer, "\(reason)")
            }
        }
    }

    @Test func unknownLayerClassIsNamed() throws {
        let path = KerasGoldens.modelPath("functional-add")
        let store = try HDF5Store(path: path)
        let config = try Self.changing(store.modelConfig, layer: "flatten") { _, entry in entry["class_name"] = .string("LSTM") }
        #expect {
            try KerasModel(store: store, modelConfig: config)
        } throws: { error in
            guard case let .unsupportedLayer(errorPath, layer, reason) = error as? ModelGraphError else { return false }
            return errorPath == path && layer == "flatten" && reason.contains("'LSTM'")
        }
    }

    @Test func sharedLayersAndUnknownInboundLayersAreRejected() throws {
        let path = KerasGoldens.modelPath("functional-add")
        let store = try HDF5Store(path: path)
        let shared = try Self.changing(store.modelConfig, layer: "flatten") { _, entry in
            let node = entry["inbound_nodes"]!.arrayValue![0]
            entry["inbound_nodes"] = .array([node, node])
        }
        #expect(throws: ModelGraphError.unsupportedLayer(path: path, layer: "flatten", reason: "the layer is shared (called 2 times)")) {
            try KerasModel(store: store, modelConfig: shared)
        }
        let dangling = try Self.changing(store.modelConfig, layer: "flatten") { _, entry in
            entry["inbound_nodes"] = .array([.array([.array([.string("nowhere"), .integer(0), .integer(0), .object(JSONObject())])])])
        }
        #expect(throws: ModelGraphError.invalidConfig(
            path: path, field: "flatten.inbound_nodes", reason: "reads 'nowhere', which is not a layer of the model or forms a cycle")) {
            try KerasModel(store: store, modelConfig: dangling)
        }
    }

    @Test func nonKerasFileIsATypedError() throws {
        let path = TestLocations.fixtures.appendingPathComponent("hdf5/plain.h5").path
        #expect {
            try KerasModel.load(path: path)
        } throws: { error in
            guard case let .invalidConfig(errorPath, field, _) = error as? ModelGraphError else { return false }
            return errorPath == path && field == "model_config"
        }
    }

    /// functional-add's config with layer `layer` changed: `change(config, entry)` edits the
    /// layer's `config` object and its whole entry.
    static func changing(_ modelConfig: JSONValue?, layer name: String,
                         _ change: (inout JSONObject, inout JSONObject) -> Void) throws -> JSONValue {
        var model = try #require(modelConfig?.objectValue)
        var inner = try #require(model["config"]?.objectValue)
        var layers = try #require(inner["layers"]?.arrayValue)
        let index = try #require(layers.firstIndex { $0["name"]?.stringValue == name })
        var entry = try #require(layers[index].objectValue)
        var config = try #require(entry["config"]?.objectValue)
        change(&config, &entry)
        entry["config"] = .object(config)
        layers[index] = .object(entry)
        inner["layers"] = .array(layers)
        model["config"] = .object(inner)
        return .object(model)
    }
}
