/// Element-wise activation functions.
public enum ActivationKind: String, Sendable, Codable, CaseIterable {
    case relu
    case relu6
    /// The exact GELU, x·Φ(x) with the error function (BERT's "gelu").
    case gelu
    /// The tanh approximation of GELU ("gelu_new", "gelu_pytorch_tanh").
    case geluTanh = "gelu_tanh"
    case silu
    case sigmoid
    case tanh
}

/// Multi-head scaled dot-product attention over `[batch, sequence, heads · headSize]`
/// queries, keys and values, with an optional key mask `[batch, sequence]` (1 = attend).
public struct AttentionAttributes: Sendable, Equatable, Codable {
    public var heads: Int
    public var headSize: Int
    public init(heads: Int, headSize: Int) {
        self.heads = heads
        self.headSize = headSize
    }
}

/// The closed set of operations a graph node can perform. Parameters (weights) live in
/// the node's `parameters` under the names listed for each case.
public enum Op: Sendable, Equatable {
    /// Row lookup: input `[batch, sequence]` of indices → `[batch, sequence, width]`.
    /// Parameters: `weight [rows, width]`.
    case embedding
    /// `y = x·Wᵀ + b` over the last axis. Parameters: `weight [out, in]`, optional `bias [out]`.
    case linear
    /// Normalisation over the last axis. Parameters: `weight`, `bias`.
    case layerNorm(epsilon: Float)
    /// Element-wise activation.
    case activation(ActivationKind)
    /// ReLU with a ceiling per channel of the last axis: `y = min(max(x, 0), ceiling[c])`.
    /// Parameters: `ceiling [channels]` (each ≥ 0; high-bias absorption can lower one to 0). What cross-layer equalization makes of a
    /// ReLU6 whose channel `c` it divided by `sᶜ` (the ceiling becomes `6 / sᶜ`), so the
    /// equalized model stays exactly equivalent to the original one.
    case boundedReLU
    /// Element-wise sum of two inputs of the same shape.
    case add
    /// Element-wise product of two inputs of the same shape.
    case mul
    /// Attention: inputs `query, key, value[, mask]`.
    case attention(AttentionAttributes)
    /// Mean over the sequence axis of `[batch, sequence, width]` weighted by the mask input
    /// `[batch, sequence]` → `[batch, width]`. Masked (padding) positions never contribute.
    case meanPool
    /// Divides each row of the last axis by its L2 norm (with a floor of 1e-12).
    case l2Normalize
    /// 2-D convolution of an NHWC input. Parameters: `weight [out, kh, kw, in / groups]`,
    /// optional `bias [out]`.
    case conv2d(Convolution2DAttributes)
    /// Inference batch normalisation over the last (channel) axis:
    /// `y = (x − mean) / sqrt(variance + ε) · weight + bias`.
    /// Parameters: `weight`, `bias`, `mean`, `variance`, each `[channels]`.
    case batchNorm(epsilon: Float)
    /// Max or average pooling of an NHWC input.
    case pool2d(Pool2DAttributes)
    /// Mean over the spatial axes: `[batch, height, width, channels]` → `[batch, channels]`.
    case globalAveragePool
    /// Flattens every axis after the first: `[batch, ...]` → `[batch, product]`.
    case flatten
    /// Softmax over the last axis.
    case softmax

    /// A short name for reports and errors.
    public var kindName: String {
        switch self {
        case .embedding: return "embedding"
        case .linear: return "linear"
        case .layerNorm: return "layer_norm"
        case let .activation(kind): return kind.rawValue
        case .boundedReLU: return "bounded_relu"
        case .add: return "add"
        case .mul: return "mul"
        case .attention: return "attention"
        case .meanPool: return "mean_pool"
        case .l2Normalize: return "l2_normalize"
        case .conv2d: return "conv2d"
        case .batchNorm: return "batch_norm"
        case let .pool2d(attributes): return attributes.kind == .max ? "max_pool" : "average_pool"
        case .globalAveragePool: return "global_average_pool"
        case .flatten: return "flatten"
        case .softmax: return "softmax"
        }
    }

    /// True for the layers whose weights quantization targets (linear, conv2d, embedding).
    public var hasQuantizableWeight: Bool {
        switch self {
        case .linear, .conv2d, .embedding: return true
        default: return false
        }
    }
}
