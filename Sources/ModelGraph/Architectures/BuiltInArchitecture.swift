import ModelIO
import QuantCore

/// The CNNs whose graphs are built in: the checkpoint holds only a state dict (tensor names
/// and values), so the layer sequence, strides and paddings come from here.
///
/// Every graph reads one input called ``inputName`` of shape `[batch, 224, 224, 3]`: NHWC,
/// RGB, already normalised (MobileNetV2: ImageNet mean and standard deviation on [0, 1]
/// pixels; EfficientNet-Lite0: `(x − 127) / 128` on 0...255) — and returns logits
/// `[batch, classes]`.
/// Node names are the checkpoint prefixes (`features.1.conv.0.0`, `_blocks.3._depthwise_conv`),
/// so reports and encodings name layers as PyTorch and AIMET do.
public enum BuiltInArchitecture: String, CaseIterable, Sendable {
    /// torchvision's MobileNetV2 (`features.N.conv.…`, `classifier.1`), BN ε 1e-5, ReLU6,
    /// symmetric zero padding.
    case mobileNetV2 = "mobilenet_v2"
    /// EfficientNet-Lite0 in efficientnet_pytorch naming (`_conv_stem`, `_blocks.N.…`, `_fc`):
    /// the B0 block layout without squeeze-excitation, ReLU6, BN ε 1e-3, TensorFlow "SAME" padding.
    case efficientNetLite0 = "efficientnet_lite0"

    /// The name of every built-in graph's input.
    public static let inputName = "image"

    /// The names accepted by ``init(name:)``, in declaration order.
    public static var names: [String] { allCases.map(\.rawValue) }

    /// Parses an architecture name as given to `--arch` (`mobilenet_v2`, `efficientnet_lite0`;
    /// case-insensitive, `-` accepted for `_`).
    public init(name: String) throws {
        let normalized = name.lowercased().replacingOccurrences(of: "-", with: "_")
        guard let architecture = BuiltInArchitecture(rawValue: normalized) else {
            throw ModelGraphError.unknownArchitecture(name: name, supported: Self.names)
        }
        self = architecture
    }

    /// Input height and width in pixels.
    public var imageSize: Int { 224 }

    /// The layer sequence of this architecture.
    var layers: ArchitectureDescription {
        switch self {
        case .mobileNetV2: return ArchitectureDescription.mobileNetV2
        case .efficientNetLite0: return ArchitectureDescription.efficientNetLite0
        }
    }

    /// The float tensors a checkpoint of this architecture holds (PyTorch layouts: conv weights
    /// OIHW), with batch norms unfolded. `num_batches_tracked` counters are optional and not listed.
    public func checkpointLayout(classes: Int = 1000) -> [TensorInfo] {
        layers.checkpointLayout(classes: classes)
    }

    /// Builds the graph from a state dict. Each convolution is followed by its batch norm, or,
    /// in a folded checkpoint (batch norm tensors absent, the convolution has a `bias`), runs
    /// with its bias alone. The class count is read from the classifier's weight.
    ///
    /// Throws ``ModelGraphError`` naming the file and tensor for a missing, misshapen,
    /// non-finite or unexpected tensor.
    public func buildGraph(store: any WeightStore) throws -> Graph {
        try ArchitectureGraphAssembler.build(layers, architecture: rawValue, store: store)
    }

    /// Opens the checkpoint at `path` (`.pth` legacy or zip, `.safetensors`) and builds the graph.
    public func loadGraph(path: String) throws -> Graph {
        try buildGraph(store: WeightStores.open(path))
    }
}
