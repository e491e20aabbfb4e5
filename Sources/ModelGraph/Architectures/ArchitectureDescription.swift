import ModelIO
import QuantCore

/// One convolution of a built-in CNN with the batch norm after it and, optionally, a ReLU6.
struct ConvolutionUnit: Sendable {
    /// Checkpoint prefix of the convolution (its node name).
    var convolution: String
    /// Checkpoint prefix of the batch norm (its node name).
    var batchNorm: String
    /// Node name of the ReLU6 after the batch norm; nil for none (projection convolutions).
    var activation: String?
    var inputChannels: Int
    var outputChannels: Int
    var kernel: Int
    var stride: Int
    var groups: Int
    var padding: Padding2D

    /// The PyTorch (OIHW) shape of the convolution's weight.
    var checkpointWeightShape: [Int] { [outputChannels, inputChannels / groups, kernel, kernel] }

    var attributes: Convolution2DAttributes {
        Convolution2DAttributes(window: Window2D(height: kernel, width: kernel, strideHeight: stride, strideWidth: stride,
                                                 padding: padding),
                                groups: groups)
    }
}

/// A block of convolution units, with a residual sum of its input and output when `residual`
/// names the add node.
struct ConvolutionBlock: Sendable {
    var units: [ConvolutionUnit]
    var residual: String?
}

/// The whole CNN: stem, blocks, head convolution, global average pooling, linear classifier.
struct ArchitectureDescription: Sendable {
    var stem: ConvolutionUnit
    var blocks: [ConvolutionBlock]
    var head: ConvolutionUnit
    /// Node name of the global average pooling.
    var pooling: String
    /// Checkpoint prefix of the classifier (a linear layer).
    var classifier: String
    var batchNormEpsilon: Float

    /// Every convolution unit in execution order.
    var units: [ConvolutionUnit] { [stem] + blocks.flatMap(\.units) + [head] }

    /// The float tensors of an unfolded checkpoint, in execution order.
    func checkpointLayout(classes: Int) -> [TensorInfo] {
        var layout: [TensorInfo] = []
        for unit in units {
            layout.append(TensorInfo(name: unit.convolution + ".weight", dtype: .float32, shape: unit.checkpointWeightShape))
            for role in ArchitectureGraphAssembler.batchNormRoles {
                layout.append(TensorInfo(name: unit.batchNorm + "." + role.checkpoint, dtype: .float32, shape: [unit.outputChannels]))
            }
        }
        layout.append(TensorInfo(name: classifier + ".weight", dtype: .float32, shape: [classes, head.outputChannels]))
        layout.append(TensorInfo(name: classifier + ".bias", dtype: .float32, shape: [classes]))
        return layout
    }
}

extension ArchitectureDescription {
    /// torchvision's `mobilenet_v2`: inverted residual settings (t, c, n, s) from the paper.
    static var mobileNetV2: ArchitectureDescription {
        func unit(_ prefix: String, _ inputs: Int, _ outputs: Int, kernel: Int, stride: Int, groups: Int,
                  activation: Bool) -> ConvolutionUnit {
            ConvolutionUnit(convolution: prefix + ".0", batchNorm: prefix + ".1", activation: activation ? prefix + ".2" : nil,
                            inputChannels: inputs, outputChannels: outputs, kernel: kernel, stride: stride, groups: groups,
                            padding: .symmetric((kernel - 1) / 2, (kernel - 1) / 2))
        }
        let settings: [(expansion: Int, channels: Int, repeats: Int, stride: Int)] = [
            (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
        ]
        var blocks: [ConvolutionBlock] = []
        var inputs = 32, index = 1
        for setting in settings {
            for repeatIndex in 0..<setting.repeats {
                let stride = repeatIndex == 0 ? setting.stride : 1
                let hidden = inputs * setting.expansion
                let prefix = "features.\(index).conv"
                var units: [ConvolutionUnit] = []
                if setting.expansion != 1 {
                    units.append(unit("\(prefix).0", inputs, hidden, kernel: 1, stride: 1, groups: 1, activation: true))
                }
                let depthwise = units.count
                units.append(unit("\(prefix).\(depthwise)", hidden, hidden, kernel: 3, stride: stride, groups: hidden, activation: true))
                // The projection is a bare conv at `conv.{d+1}` with its batch norm at `conv.{d+2}`.
                units.append(ConvolutionUnit(convolution: "\(prefix).\(depthwise + 1)", batchNorm: "\(prefix).\(depthwise + 2)",
                                             activation: nil, inputChannels: hidden, outputChannels: setting.channels,
                                             kernel: 1, stride: 1, groups: 1, padding: .valid))
                let residual = stride == 1 && inputs == setting.channels ? "features.\(index).add" : nil
                blocks.append(ConvolutionBlock(units: units, residual: residual))
                inputs = setting.channels
                index += 1
            }
        }
        return ArchitectureDescription(
            stem: unit("features.0", 3, 32, kernel: 3, stride: 2, groups: 1, activation: true),
            blocks: blocks,
            head: unit("features.\(index)", inputs, 1280, kernel: 1, stride: 1, groups: 1, activation: true),
            pooling: "avgpool", classifier: "classifier.1", batchNormEpsilon: 1e-5)
    }

    /// EfficientNet-Lite0 (efficientnet_pytorch naming): B0's seven stages without
    /// squeeze-excitation; stem and head are not scaled.
    static var efficientNetLite0: ArchitectureDescription {
        func unit(_ convolution: String, _ batchNorm: String, _ inputs: Int, _ outputs: Int, kernel: Int, stride: Int,
                  groups: Int, activation: Bool) -> ConvolutionUnit {
            ConvolutionUnit(convolution: convolution, batchNorm: batchNorm, activation: activation ? convolution + ".relu6" : nil,
                            inputChannels: inputs, outputChannels: outputs, kernel: kernel, stride: stride, groups: groups,
                            padding: .same)
        }
        let stages: [(repeats: Int, kernel: Int, stride: Int, expansion: Int, inputs: Int, outputs: Int)] = [
            (1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
            (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320),
        ]
        var blocks: [ConvolutionBlock] = []
        var index = 0
        for stage in stages {
            for repeatIndex in 0..<stage.repeats {
                let stride = repeatIndex == 0 ? stage.stride : 1
                let inputs = repeatIndex == 0 ? stage.inputs : stage.outputs
                let hidden = inputs * stage.expansion
                let prefix = "_blocks.\(index)"
                var units: [ConvolutionUnit] = []
                if stage.expansion != 1 {
                    units.append(unit("\(prefix)._expand_conv", "\(prefix)._bn0", inputs, hidden, kernel: 1, stride: 1,
                                      groups: 1, activation: true))
                }
                units.append(unit("\(prefix)._depthwise_conv", "\(prefix)._bn1", hidden, hidden, kernel: stage.kernel,
                                  stride: stride, groups: hidden, activation: true))
                units.append(unit("\(prefix)._project_conv", "\(prefix)._bn2", hidden, stage.outputs, kernel: 1, stride: 1,
                                  groups: 1, activation: false))
                let residual = stride == 1 && inputs == stage.outputs ? "\(prefix).add" : nil
                blocks.append(ConvolutionBlock(units: units, residual: residual))
                index += 1
            }
        }
        return ArchitectureDescription(
            stem: unit("_conv_stem", "_bn0", 3, 32, kernel: 3, stride: 2, groups: 1, activation: true),
            blocks: blocks,
            head: unit("_conv_head", "_bn1", 320, 1280, kernel: 1, stride: 1, groups: 1, activation: true),
            pooling: "_avg_pooling", classifier: "_fc", batchNormEpsilon: 1e-3)
    }
}
