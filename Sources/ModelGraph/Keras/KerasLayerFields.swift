import ModelIO
import QuantCore

/// Typed access to one Keras layer's `config`, with errors naming the file and layer.
struct KerasLayerFields {
    let layer: KerasLayerSpecification
    let path: String

    var name: String { layer.name }
    var config: JSONValue { layer.config }

    func invalid(_ key: String, _ reason: String) -> ModelGraphError {
        .invalidConfig(path: path, field: "\(name).\(key)", reason: reason)
    }

    func unsupported(_ reason: String) -> ModelGraphError {
        .unsupportedLayer(path: path, layer: name, reason: reason)
    }

    /// True when the key is absent or null.
    func isMissing(_ key: String) -> Bool {
        guard let value = config[key] else { return true }
        return value == .null
    }

    func integer(_ key: String) throws -> Int {
        guard let value = config[key]?.intValue else { throw invalid(key, "missing or not an integer") }
        return value
    }

    func integer(_ key: String, default fallback: Int) throws -> Int {
        isMissing(key) ? fallback : try integer(key)
    }

    func boolean(_ key: String, default fallback: Bool) throws -> Bool {
        if isMissing(key) { return fallback }
        guard let value = config[key]?.boolValue else { throw invalid(key, "not a boolean") }
        return value
    }

    func number(_ key: String, default fallback: Double) throws -> Double {
        if isMissing(key) { return fallback }
        guard let value = config[key]?.doubleValue else { throw invalid(key, "not a number") }
        return value
    }

    /// An `(height, width)` pair written as `[h, w]` or as one integer for both; `fallback`
    /// when absent or null (nil fallback: required).
    func pair(_ key: String, default fallback: (Int, Int)?) throws -> (Int, Int) {
        if isMissing(key) {
            guard let fallback else { throw invalid(key, "missing") }
            return fallback
        }
        if let single = config[key]?.intValue {
            guard single > 0 else { throw invalid(key, "must be positive") }
            return (single, single)
        }
        guard let values = config[key]?.arrayValue?.compactMap(\.intValue), values.count == 2,
              config[key]?.arrayValue?.count == 2 else {
            throw invalid(key, "not an integer or a pair of integers")
        }
        guard values[0] > 0, values[1] > 0 else { throw invalid(key, "must be positive") }
        return (values[0], values[1])
    }

    /// Rejects `channels_first`: activations are NHWC.
    func requireChannelsLast() throws {
        if isMissing("data_format") { return }
        guard let format = config["data_format"]?.stringValue else { throw invalid("data_format", "not a string") }
        guard format == "channels_last" else {
            throw unsupported("data_format '\(format)' is not supported (only channels_last)")
        }
    }

    /// `padding: "valid" | "same"`.
    func padding() throws -> Padding2D {
        guard let text = config["padding"]?.stringValue else { throw invalid("padding", "missing or not a string") }
        switch text.lowercased() {
        case "valid": return .valid
        case "same": return .same
        default: throw unsupported("padding '\(text)' is not supported (valid, same)")
        }
    }

    /// The window of a convolution (`kernel_size`, `strides`, `dilation_rate`, `padding`).
    func convolutionWindow() throws -> Window2D {
        try requireChannelsLast()
        let kernel = try pair("kernel_size", default: nil)
        let strides = try pair("strides", default: (1, 1))
        let dilation = try pair("dilation_rate", default: (1, 1))
        return Window2D(height: kernel.0, width: kernel.1, strideHeight: strides.0, strideWidth: strides.1,
                        dilationHeight: dilation.0, dilationWidth: dilation.1, padding: try padding())
    }

    /// The window of a pooling layer (`pool_size`, `strides` defaulting to the pool size, `padding`).
    func poolingWindow() throws -> Window2D {
        try requireChannelsLast()
        let size = try pair("pool_size", default: (2, 2))
        let strides = try pair("strides", default: size)
        return Window2D(height: size.0, width: size.1, strideHeight: strides.0, strideWidth: strides.1, padding: try padding())
    }

    /// The name of the layer's activation (`activation`, default `linear`). Keras 3 may
    /// store it as `{"class_name": "function", "config": "relu", ...}`.
    func activationName(_ key: String = "activation") throws -> String {
        if isMissing(key) { return "linear" }
        if let text = config[key]?.stringValue { return text }
        if let text = config[key]?["config"]?.stringValue { return text }
        throw unsupported("activation \(key) is not a named Keras activation")
    }

    /// The op for a named Keras activation: nil for `linear` (the identity).
    func activationOp(_ activation: String) throws -> Op? {
        switch activation {
        case "linear": return nil
        case "relu": return .activation(.relu)
        case "relu6": return .activation(.relu6)
        case "sigmoid": return .activation(.sigmoid)
        case "tanh": return .activation(.tanh)
        case "swish", "silu": return .activation(.silu)
        case "softmax": return .softmax
        default:
            throw unsupported("activation '\(activation)' is not supported (linear, relu, relu6, sigmoid, tanh, swish, softmax)")
        }
    }
}

/// A layer's weights from the HDF5 file, by role (`kernel`, `bias`, `gamma`, ...: the
/// weight name's last component without `:0`). Every weight must be taken exactly once.
struct KerasLayerWeights {
    let fields: KerasLayerFields
    let store: HDF5Store
    private var remaining: [String: String]

    init(fields: KerasLayerFields, names: [String], store: HDF5Store) throws {
        self.fields = fields
        self.store = store
        var remaining: [String: String] = [:]
        for name in names {
            let role = Self.role(of: name)
            guard remaining[role] == nil else {
                throw ModelGraphError.unexpectedWeight(path: store.path, tensor: name, reason: "layer '\(fields.name)' has two '\(role)' weights")
            }
            remaining[role] = name
        }
        self.remaining = remaining
    }

    /// `conv2d_1_1/kernel:0` → `kernel`.
    static func role(of name: String) -> String {
        var last = name.split(separator: "/").last.map(String.init) ?? name
        if let colon = last.lastIndex(of: ":") { last = String(last[..<colon]) }
        return last
    }

    /// The weight with `role` and its tensor name, checked against `shape`; nil when the
    /// layer has none.
    mutating func take(_ role: String, shape: [Int]) throws -> (tensor: Tensor, source: String)? {
        guard let name = remaining.removeValue(forKey: role) else { return nil }
        let tensor = try store.floatTensor(named: name)
        guard tensor.shape == shape else {
            throw ModelGraphError.shapeMismatch(path: store.path, tensor: name, expected: shape, actual: tensor.shape)
        }
        guard tensor.scalars.allSatisfy(\.isFinite) else {
            throw ModelGraphError.nonFiniteWeight(path: store.path, tensor: name)
        }
        return (tensor, name)
    }

    /// Like `take`, but the weight must exist.
    mutating func require(_ role: String, shape: [Int]) throws -> (tensor: Tensor, source: String) {
        guard let weight = try take(role, shape: shape) else {
            throw ModelGraphError.missingWeight(path: store.path, tensor: "\(fields.name)/\(role)")
        }
        return weight
    }

    /// Throws when a weight was not used (a role the layer's config does not explain).
    func finish() throws {
        if let (role, name) = remaining.sorted(by: { $0.key < $1.key }).first {
            throw ModelGraphError.unexpectedWeight(
                path: store.path, tensor: name, reason: "layer '\(fields.name)' (\(fields.layer.className)) has no use for a '\(role)' weight")
        }
    }
}

/// Keras weight layouts → the IR's.
enum KerasWeightLayout {
    /// HWIO `[kh, kw, in, out]` → OHWI `[out, kh, kw, in]`.
    static func convolutionKernel(_ kernel: Tensor) -> Tensor {
        let (height, width, input, output) = (kernel.shape[0], kernel.shape[1], kernel.shape[2], kernel.shape[3])
        var result = [Float](repeating: 0, count: kernel.count)
        for y in 0..<height {
            for x in 0..<width {
                for i in 0..<input {
                    let source = ((y * width + x) * input + i) * output
                    for o in 0..<output {
                        result[((o * height + y) * width + x) * input + i] = kernel.scalars[source + o]
                    }
                }
            }
        }
        return Tensor(shape: [output, height, width, input], scalars: result)
    }

    /// Depthwise `[kh, kw, in, multiplier]` → `[in · multiplier, kh, kw, 1]`; output
    /// channel `c · multiplier + m` reads input channel `c` (TensorFlow's order).
    static func depthwiseKernel(_ kernel: Tensor) -> Tensor {
        let (height, width, input, multiplier) = (kernel.shape[0], kernel.shape[1], kernel.shape[2], kernel.shape[3])
        let reshaped = Tensor(shape: [height, width, 1, input * multiplier], scalars: kernel.scalars)
        return convolutionKernel(reshaped)
    }

    /// Dense `[in, out]` → linear `[out, in]`.
    static func denseKernel(_ kernel: Tensor) -> Tensor {
        let (input, output) = (kernel.shape[0], kernel.shape[1])
        var result = [Float](repeating: 0, count: kernel.count)
        for i in 0..<input {
            for o in 0..<output { result[o * input + i] = kernel.scalars[i * output + o] }
        }
        return Tensor(shape: [output, input], scalars: result)
    }
}
