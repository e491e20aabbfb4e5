import ModelIO
import QuantCore

/// One conversion per supported Keras layer class.
extension KerasGraphBuilder {
    /// The Keras layer classes the front end converts.
    static let supportedLayerClasses = [
        "InputLayer", "Conv2D", "SeparableConv2D", "DepthwiseConv2D", "BatchNormalization", "Activation", "ReLU",
        "Softmax", "MaxPooling2D", "AveragePooling2D", "Add", "GlobalAveragePooling2D", "Flatten", "Dense", "Dropout",
    ]

    mutating func convert(_ fields: KerasLayerFields, inputs: [LayerValue], weights: inout KerasLayerWeights) throws -> LayerValue {
        let className = fields.layer.className
        if className != "Add", inputs.count != 1 {
            throw fields.unsupported("\(className) with \(inputs.count) inputs")
        }
        switch className {
        case "Conv2D": return try convolution(fields, inputs[0], weights: &weights)
        case "SeparableConv2D": return try separableConvolution(fields, inputs[0], weights: &weights)
        case "DepthwiseConv2D": return try depthwiseConvolution(fields, inputs[0], weights: &weights)
        case "BatchNormalization": return try batchNormalization(fields, inputs[0], weights: &weights)
        case "Activation":
            let activation = try fields.activationName()
            guard let op = try fields.activationOp(activation) else {
                notes.append("\(fields.name): linear Activation is the identity (no node)")
                return inputs[0]
            }
            return add(fields.name, op, inputs: inputs, shape: inputs[0].shape)
        case "ReLU": return try rectifier(fields, inputs[0])
        case "Softmax":
            try requireLastAxis(fields, inputs[0], default: -1)
            return add(fields.name, .softmax, inputs: inputs, shape: inputs[0].shape)
        case "MaxPooling2D", "AveragePooling2D":
            let window = try fields.poolingWindow()
            let input = try spatial(fields, inputs[0])
            let placement = try placement(fields, window, input)
            let kind: Pool2DAttributes.Kind = className == "MaxPooling2D" ? .max : .average
            // Keras (TensorFlow) leaves padded pixels out of an average's divisor.
            return add(fields.name, .pool2d(Pool2DAttributes(kind: kind, window: window, countsPadding: false)), inputs: inputs,
                       shape: [placement.outputHeight, placement.outputWidth, input.channels])
        case "Add":
            return try sum(fields, inputs)
        case "GlobalAveragePooling2D":
            try fields.requireChannelsLast()
            if try fields.boolean("keepdims", default: false) { throw fields.unsupported("keepdims=true is not supported") }
            let input = try spatial(fields, inputs[0])
            return add(fields.name, .globalAveragePool, inputs: inputs, shape: [input.channels])
        case "Flatten":
            try fields.requireChannelsLast()
            return add(fields.name, .flatten, inputs: inputs, shape: [inputs[0].shape.reduce(1, *)])
        case "Dense": return try dense(fields, inputs[0], weights: &weights)
        case "Dropout":
            notes.append("\(fields.name): Dropout is the identity at inference (no node)")
            return inputs[0]
        default:
            throw fields.unsupported(
                "layer class '\(className)' is not supported (supported: \(Self.supportedLayerClasses.joined(separator: ", ")))")
        }
    }

    // MARK: - Convolutions

    private mutating func convolution(_ fields: KerasLayerFields, _ inputValue: LayerValue, weights: inout KerasLayerWeights) throws -> LayerValue {
        let window = try fields.convolutionWindow()
        let input = try spatial(fields, inputValue)
        let filters = try fields.integer("filters")
        let groups = try fields.integer("groups", default: 1)
        guard filters > 0, groups > 0, input.channels % groups == 0, filters % groups == 0 else {
            throw fields.invalid("groups", "\(groups) groups do not divide \(input.channels) input and \(filters) output channels")
        }
        let placement = try placement(fields, window, input)
        let kernel = try weights.require("kernel", shape: [window.height, window.width, input.channels / groups, filters])
        var parameters = ["weight": KerasWeightLayout.convolutionKernel(kernel.tensor)]
        var sources = ["weight": kernel.source]
        if try fields.boolean("use_bias", default: true) {
            let bias = try weights.require("bias", shape: [filters])
            parameters["bias"] = bias.tensor
            sources["bias"] = bias.source
        }
        let output = add(fields.name, .conv2d(Convolution2DAttributes(window: window, groups: groups)), inputs: [inputValue],
                         shape: [placement.outputHeight, placement.outputWidth, filters], parameters: parameters, sources: sources)
        return try applyActivation(fields, to: output)
    }

    /// The depthwise part of DepthwiseConv2D / SeparableConv2D as a node called `name`.
    private mutating func depthwise(_ fields: KerasLayerFields, _ inputValue: LayerValue, name: String,
                                    weights: inout KerasLayerWeights, bias: Bool) throws -> LayerValue {
        let window = try fields.convolutionWindow()
        let input = try spatial(fields, inputValue)
        let multiplier = try fields.integer("depth_multiplier", default: 1)
        guard multiplier > 0 else { throw fields.invalid("depth_multiplier", "must be positive") }
        let placement = try placement(fields, window, input)
        let kernel = try weights.require("depthwise_kernel", shape: [window.height, window.width, input.channels, multiplier])
        let channels = input.channels * multiplier
        var parameters = ["weight": KerasWeightLayout.depthwiseKernel(kernel.tensor)]
        var sources = ["weight": kernel.source]
        if bias {
            let bias = try weights.require("bias", shape: [channels])
            parameters["bias"] = bias.tensor
            sources["bias"] = bias.source
        }
        return add(name, .conv2d(Convolution2DAttributes(window: window, groups: input.channels)), inputs: [inputValue],
                   shape: [placement.outputHeight, placement.outputWidth, channels], parameters: parameters, sources: sources)
    }

    private mutating func depthwiseConvolution(_ fields: KerasLayerFields, _ input: LayerValue, weights: inout KerasLayerWeights) throws -> LayerValue {
        let output = try depthwise(fields, input, name: fields.name, weights: &weights, bias: try fields.boolean("use_bias", default: true))
        return try applyActivation(fields, to: output)
    }

    /// Depthwise (`<name>.depthwise`, no bias) then pointwise 1×1 (`<name>.pointwise`, with
    /// the layer's bias), then the activation.
    private mutating func separableConvolution(_ fields: KerasLayerFields, _ input: LayerValue, weights: inout KerasLayerWeights) throws -> LayerValue {
        let depthwiseOutput = try depthwise(fields, input, name: "\(fields.name).depthwise", weights: &weights, bias: false)
        let channels = depthwiseOutput.shape[2]
        let filters = try fields.integer("filters")
        guard filters > 0 else { throw fields.invalid("filters", "must be positive") }
        let kernel = try weights.require("pointwise_kernel", shape: [1, 1, channels, filters])
        var parameters = ["weight": KerasWeightLayout.convolutionKernel(kernel.tensor)]
        var sources = ["weight": kernel.source]
        if try fields.boolean("use_bias", default: true) {
            let bias = try weights.require("bias", shape: [filters])
            parameters["bias"] = bias.tensor
            sources["bias"] = bias.source
        }
        let pointwise = add("\(fields.name).pointwise", .conv2d(Convolution2DAttributes(window: Window2D(height: 1, width: 1))),
                            inputs: [depthwiseOutput], shape: [depthwiseOutput.shape[0], depthwiseOutput.shape[1], filters],
                            parameters: parameters, sources: sources)
        splitLayers["SeparableConv2D", default: 0] += 1
        return try applyActivation(fields, to: pointwise)
    }

    // MARK: - Normalisation, activations, sums, dense

    private mutating func batchNormalization(_ fields: KerasLayerFields, _ input: LayerValue, weights: inout KerasLayerWeights) throws -> LayerValue {
        try requireLastAxis(fields, input, default: -1)
        guard let channels = input.shape.last else { throw fields.unsupported("batch normalisation of a scalar") }
        let epsilon = try fields.number("epsilon", default: 0.001)
        guard epsilon >= 0 else { throw fields.invalid("epsilon", "must not be negative") }
        var parameters: [String: Tensor] = [:]
        var sources: [String: String] = [:]
        let roles = [("weight", "gamma", "scale", Float(1)), ("bias", "beta", "center", Float(0))]
        for (parameter, role, flag, neutral) in roles {
            if try fields.boolean(flag, default: true) {
                let weight = try weights.require(role, shape: [channels])
                parameters[parameter] = weight.tensor
                sources[parameter] = weight.source
            } else {
                parameters[parameter] = Tensor(shape: [channels], scalars: [Float](repeating: neutral, count: channels))
            }
        }
        for (parameter, role) in [("mean", "moving_mean"), ("variance", "moving_variance")] {
            let weight = try weights.require(role, shape: [channels])
            parameters[parameter] = weight.tensor
            sources[parameter] = weight.source
        }
        return add(fields.name, .batchNorm(epsilon: Float(epsilon)), inputs: [input], shape: input.shape,
                   parameters: parameters, sources: sources)
    }

    /// `axis` must name the last axis (-1, or its index counting the batch axis).
    private func requireLastAxis(_ fields: KerasLayerFields, _ input: LayerValue, default fallback: Int) throws {
        var axis = fallback
        if !fields.isMissing("axis") {
            if let single = fields.config["axis"]?.intValue {
                axis = single
            } else if let list = fields.config["axis"]?.arrayValue, list.count == 1, let single = list[0].intValue {
                axis = single
            } else {
                throw fields.unsupported("axis \(fields.config["axis"].map { "\($0)" } ?? "") is not supported (the last axis only)")
            }
        }
        guard axis == -1 || axis == input.shape.count else {
            throw fields.unsupported("axis \(axis) is not supported (the last axis only, -1 or \(input.shape.count))")
        }
    }

    /// The `ReLU` layer: plain (no maximum) or capped at 6, no negative slope or threshold.
    private mutating func rectifier(_ fields: KerasLayerFields, _ input: LayerValue) throws -> LayerValue {
        let slope = try fields.number("negative_slope", default: 0)
        let threshold = try fields.number("threshold", default: 0)
        guard slope == 0, threshold == 0 else {
            throw fields.unsupported("ReLU with negative_slope \(slope) / threshold \(threshold) is not supported (0 only)")
        }
        let kind: ActivationKind
        if fields.isMissing("max_value") {
            kind = .relu
        } else {
            let maximum = try fields.number("max_value", default: 0)
            guard maximum == 6 else { throw fields.unsupported("ReLU max_value \(maximum) is not supported (none or 6)") }
            kind = .relu6
        }
        return add(fields.name, .activation(kind), inputs: [input], shape: input.shape)
    }

    /// `Add` of two inputs is one node; of more, a chain of `<name>.partial<i>` sums ending
    /// in `<name>`.
    private mutating func sum(_ fields: KerasLayerFields, _ inputs: [LayerValue]) throws -> LayerValue {
        guard inputs.count >= 2 else { throw fields.unsupported("Add with \(inputs.count) input(s) (2 or more are needed)") }
        guard inputs.allSatisfy({ $0.shape == inputs[0].shape }) else {
            throw fields.unsupported("Add of different shapes \(inputs.map(\.shape)) (broadcasting is not supported)")
        }
        var total = inputs[0]
        for index in 1..<inputs.count {
            let name = index == inputs.count - 1 ? fields.name : "\(fields.name).partial\(index)"
            total = add(name, .add, inputs: [total, inputs[index]], shape: inputs[0].shape)
        }
        if inputs.count > 2 { splitLayers["Add", default: 0] += 1 }
        return total
    }

    private mutating func dense(_ fields: KerasLayerFields, _ input: LayerValue, weights: inout KerasLayerWeights) throws -> LayerValue {
        let units = try fields.integer("units")
        guard units > 0 else { throw fields.invalid("units", "must be positive") }
        guard let features = input.shape.last else { throw fields.unsupported("Dense on a scalar input") }
        let kernel = try weights.require("kernel", shape: [features, units])
        var parameters = ["weight": KerasWeightLayout.denseKernel(kernel.tensor)]
        var sources = ["weight": kernel.source]
        if try fields.boolean("use_bias", default: true) {
            let bias = try weights.require("bias", shape: [units])
            parameters["bias"] = bias.tensor
            sources["bias"] = bias.source
        }
        let output = add(fields.name, .linear, inputs: [input], shape: Array(input.shape.dropLast()) + [units],
                         parameters: parameters, sources: sources)
        return try applyActivation(fields, to: output)
    }
}
