import ModelGraph
import ModelIO
import QuantCore
import Testing

@Suite("Built-in CNN architectures from state dicts")
struct ArchitectureBuilderTests {
    static let path = "synthetic.pth"

    static func checkpoint(_ architecture: BuiltInArchitecture, seed: UInt64 = 7) -> InMemoryWeightStore {
        InMemoryWeightStore.synthetic(architecture.checkpointLayout(), path: path, seed: seed)
    }

    func convolutions(_ graph: Graph) -> [Node] {
        graph.nodes.filter { if case .conv2d = $0.op { return true } else { return false } }
    }

    @Test func parsesTheAllowedNames() throws {
        #expect(try BuiltInArchitecture(name: "mobilenet_v2") == .mobileNetV2)
        #expect(try BuiltInArchitecture(name: "EfficientNet-Lite0") == .efficientNetLite0)
        #expect(BuiltInArchitecture.names == ["mobilenet_v2", "efficientnet_lite0"])
        #expect(throws: ModelGraphError.unknownArchitecture(name: "resnet50", supported: ["mobilenet_v2", "efficientnet_lite0"])) {
            try BuiltInArchitecture(name: "resnet50")
        }
    }

    @Test func layoutsMatchThePublishedCheckpoints() {
        // 52 convolutions with 4 batch norm tensors each + classifier weight and bias; the real
        // files add one num_batches_tracked per batch norm (314 and 296 entries).
        #expect(BuiltInArchitecture.mobileNetV2.checkpointLayout().count == 52 * 5 + 2)
        #expect(BuiltInArchitecture.efficientNetLite0.checkpointLayout().count == 49 * 5 + 2)
        let mobileNet = BuiltInArchitecture.mobileNetV2.checkpointLayout()
        #expect(mobileNet.first == TensorInfo(name: "features.0.0.weight", dtype: .float32, shape: [32, 3, 3, 3]))
        #expect(mobileNet.contains(TensorInfo(name: "features.1.conv.0.0.weight", dtype: .float32, shape: [32, 1, 3, 3])))
        #expect(mobileNet.contains(TensorInfo(name: "features.17.conv.2.weight", dtype: .float32, shape: [320, 960, 1, 1])))
        #expect(mobileNet.contains(TensorInfo(name: "features.18.0.weight", dtype: .float32, shape: [1280, 320, 1, 1])))
        let efficientNet = BuiltInArchitecture.efficientNetLite0.checkpointLayout()
        #expect(efficientNet.contains(TensorInfo(name: "_blocks.15._depthwise_conv.weight", dtype: .float32, shape: [1152, 1, 3, 3])))
        #expect(efficientNet.contains(TensorInfo(name: "_blocks.14._depthwise_conv.weight", dtype: .float32, shape: [1152, 1, 5, 5])))
        #expect(efficientNet.last == TensorInfo(name: "_fc.bias", dtype: .float32, shape: [1000]))
    }

    @Test(arguments: BuiltInArchitecture.allCases)
    func buildsTheGraphWithCheckpointNames(_ architecture: BuiltInArchitecture) throws {
        let store = Self.checkpoint(architecture)
        store.set(architecture == .mobileNetV2 ? "features.0.1.num_batches_tracked" : "_bn0.num_batches_tracked",
                  shape: [], scalars: [0])
        let graph = try architecture.buildGraph(store: store)
        #expect(graph.inputs.map(\.name) == ["image"])
        #expect(convolutions(graph).count == (architecture == .mobileNetV2 ? 52 : 49))
        let batchNorms = graph.nodes.filter { if case .batchNorm = $0.op { return true } else { return false } }
        #expect(batchNorms.count == convolutions(graph).count)
        let residuals = graph.nodes.filter { $0.op == .add }.count
        #expect(residuals == (architecture == .mobileNetV2 ? 10 : 9))
        let classifier = try #require(graph.producer(of: graph.outputs[0]))
        #expect(classifier.op == .linear)
        #expect(classifier.parameters["weight"]?.shape == [1000, 1280])
        // Every parameter names the checkpoint tensor it came from.
        for node in graph.nodes {
            for (role, _) in node.parameters { #expect(node.parameterSources[role] != nil, "\(node.name).\(role)") }
        }
    }

    @Test func mobileNetNodesUseTorchvisionNamesAndGeometry() throws {
        let store = Self.checkpoint(.mobileNetV2)
        let graph = try BuiltInArchitecture.mobileNetV2.buildGraph(store: store)
        let depthwise = try #require(graph.node(named: "features.2.conv.1.0"))
        guard case let .conv2d(attributes) = depthwise.op else { Issue.record("not a conv"); return }
        #expect(attributes.groups == 96)
        #expect(attributes.window == Window2D(height: 3, width: 3, strideHeight: 2, strideWidth: 2, padding: .symmetric(1, 1)))
        #expect(depthwise.parameterSources["weight"] == "features.2.conv.1.0.weight")
        #expect(graph.node(named: "features.2.conv.1.1")?.parameterSources["variance"] == "features.2.conv.1.1.running_var")
        #expect(graph.node(named: "features.2.conv.1.2")?.op == .activation(.relu6))
        #expect(graph.node(named: "features.2.conv.3")?.op == .batchNorm(epsilon: 1e-5))
        #expect(graph.node(named: "features.3.add") != nil)
        #expect(graph.node(named: "features.2.add") == nil)
    }

    @Test func efficientNetUsesSamePaddingAndItsStrides() throws {
        let graph = try BuiltInArchitecture.efficientNetLite0.buildGraph(store: Self.checkpoint(.efficientNetLite0))
        var strided: [String] = []
        for node in convolutions(graph) {
            guard case let .conv2d(attributes) = node.op else { continue }
            #expect(attributes.window.padding == .same)
            if attributes.window.strideHeight == 2 { strided.append(node.name) }
        }
        #expect(strided == ["_conv_stem", "_blocks.1._depthwise_conv", "_blocks.3._depthwise_conv",
                            "_blocks.5._depthwise_conv", "_blocks.11._depthwise_conv"])
        #expect(graph.node(named: "_blocks.0._expand_conv") == nil)
        #expect(graph.node(named: "_blocks.0._bn1")?.op == .batchNorm(epsilon: 1e-3))
        #expect(graph.node(named: "_conv_head.relu6")?.op == .activation(.relu6))
    }

    @Test func convolutionWeightsBecomeChannelsLast() throws {
        let store = Self.checkpoint(.mobileNetV2)
        let graph = try BuiltInArchitecture.mobileNetV2.buildGraph(store: store)
        let stem = try #require(graph.node(named: "features.0.0")?.parameters["weight"])
        #expect(stem.shape == [32, 3, 3, 3])
        let source = store.scalars("features.0.0.weight")
        // OIHW [o=5, i=2, h=1, w=0] → OHWI [5, 1, 0, 2].
        let channelsLastIndex: Int = ((5 * 3 + 1) * 3 + 0) * 3 + 2
        let checkpointIndex: Int = ((5 * 3 + 2) * 3 + 1) * 3 + 0
        #expect(stem.scalars[channelsLastIndex] == source[checkpointIndex])
        let projection = try #require(graph.node(named: "features.17.conv.2")?.parameters["weight"])
        #expect(projection.shape == [320, 1, 1, 960])
        #expect(projection.scalars == store.scalars("features.17.conv.2.weight"))
    }

    @Test func foldedConvolutionsCarryTheirBiasWithoutBatchNorm() throws {
        let store = Self.checkpoint(.mobileNetV2)
        for suffix in ["weight", "bias", "running_mean", "running_var"] { store.remove("features.5.conv.1.1.\(suffix)") }
        store.set("features.5.conv.1.0.bias", shape: [192], scalars: (0..<192).map { Float($0) / 100 })
        let graph = try BuiltInArchitecture.mobileNetV2.buildGraph(store: store)
        let convolution = try #require(graph.node(named: "features.5.conv.1.0"))
        #expect(convolution.parameters["bias"]?.scalars[3] == 0.03)
        #expect(convolution.parameterSources["bias"] == "features.5.conv.1.0.bias")
        #expect(graph.node(named: "features.5.conv.1.1") == nil)
        // The ReLU6 now reads the convolution directly.
        #expect(graph.node(named: "features.5.conv.1.2")?.inputs == [convolution.output])
        #expect(graph.node(named: "features.4.conv.1.1") != nil)
    }

    @Test func missingTensorIsNamed() {
        let store = Self.checkpoint(.efficientNetLite0)
        store.remove("_blocks.7._project_conv.weight")
        #expect(throws: ModelGraphError.missingWeight(path: Self.path, tensor: "_blocks.7._project_conv.weight")) {
            try BuiltInArchitecture.efficientNetLite0.buildGraph(store: store)
        }
    }

    @Test func convolutionWithoutBatchNormOrBiasMissesItsBatchNorm() {
        let store = Self.checkpoint(.mobileNetV2)
        for suffix in ["weight", "bias", "running_mean", "running_var"] { store.remove("features.9.conv.0.1.\(suffix)") }
        #expect(throws: ModelGraphError.missingWeight(path: Self.path, tensor: "features.9.conv.0.1.weight")) {
            try BuiltInArchitecture.mobileNetV2.buildGraph(store: store)
        }
    }

    @Test func partialBatchNormIsMissingATensor() {
        let store = Self.checkpoint(.mobileNetV2)
        store.remove("features.9.conv.0.1.running_var")
        store.set("features.9.conv.0.0.bias", shape: [384], scalars: [Float](repeating: 0, count: 384))
        #expect(throws: ModelGraphError.missingWeight(path: Self.path, tensor: "features.9.conv.0.1.running_var")) {
            try BuiltInArchitecture.mobileNetV2.buildGraph(store: store)
        }
    }

    @Test func wrongShapeIsNamed() {
        let store = Self.checkpoint(.mobileNetV2)
        store.set("features.3.conv.1.0.weight", shape: [144, 1, 5, 5], scalars: [Float](repeating: 0, count: 144 * 25))
        #expect(throws: ModelGraphError.shapeMismatch(path: Self.path, tensor: "features.3.conv.1.0.weight",
                                                      expected: [144, 1, 3, 3], actual: [144, 1, 5, 5])) {
            try BuiltInArchitecture.mobileNetV2.buildGraph(store: store)
        }
    }

    @Test func nonFiniteValueIsNamed() {
        let store = Self.checkpoint(.efficientNetLite0)
        var values = store.scalars("_blocks.4._bn1.running_mean")
        values[17] = .nan
        store.set("_blocks.4._bn1.running_mean", shape: [240], scalars: values)
        #expect(throws: ModelGraphError.nonFiniteWeight(path: Self.path, tensor: "_blocks.4._bn1.running_mean")) {
            try BuiltInArchitecture.efficientNetLite0.buildGraph(store: store)
        }
    }

    @Test func unexpectedTensorIsNamed() {
        let store = Self.checkpoint(.mobileNetV2)
        store.set("features.19.0.weight", shape: [4], scalars: [1, 2, 3, 4])
        #expect(throws: ModelGraphError.unexpectedWeight(path: Self.path, tensor: "features.19.0.weight",
                                                         reason: "is not part of the mobilenet_v2 architecture")) {
            try BuiltInArchitecture.mobileNetV2.buildGraph(store: store)
        }
    }

    @Test func otherClassCountsComeFromTheClassifier() throws {
        let store = InMemoryWeightStore.synthetic(BuiltInArchitecture.efficientNetLite0.checkpointLayout(classes: 10),
                                                  path: Self.path, seed: 3)
        let graph = try BuiltInArchitecture.efficientNetLite0.buildGraph(store: store)
        #expect(graph.node(named: "_fc")?.parameters["bias"]?.shape == [10])
    }
}
