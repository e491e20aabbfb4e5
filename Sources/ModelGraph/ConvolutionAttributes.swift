/// Zero padding around a 2-D window (convolution or pooling).
public enum Padding2D: Sendable, Equatable, Codable {
    /// Explicit zero padding on each side, in pixels.
    case explicit(top: Int, bottom: Int, left: Int, right: Int)
    /// TensorFlow's "SAME": the output has ⌈input / stride⌉ pixels per axis; the padding this
    /// needs is split with the extra pixel at the bottom / right.
    case same

    /// Symmetric explicit padding of `height` rows and `width` columns on each side.
    public static func symmetric(_ height: Int, _ width: Int) -> Padding2D {
        .explicit(top: height, bottom: height, left: width, right: width)
    }

    /// No padding ("VALID").
    public static let valid = Padding2D.explicit(top: 0, bottom: 0, left: 0, right: 0)
}

/// The geometry of a 2-D window sliding over an NHWC tensor: its size, stride, dilation and
/// padding. Shared by convolutions and pooling.
public struct Window2D: Sendable, Equatable, Codable {
    public var height: Int
    public var width: Int
    public var strideHeight: Int
    public var strideWidth: Int
    public var dilationHeight: Int
    public var dilationWidth: Int
    public var padding: Padding2D

    public init(height: Int, width: Int, strideHeight: Int = 1, strideWidth: Int = 1,
                dilationHeight: Int = 1, dilationWidth: Int = 1, padding: Padding2D = .valid) {
        self.height = height
        self.width = width
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.dilationHeight = dilationHeight
        self.dilationWidth = dilationWidth
        self.padding = padding
    }

    /// Where the window lands on an input of `inputHeight` × `inputWidth` pixels: the output
    /// size and the padding before the first row / column (padding after is implied).
    public struct Placement: Sendable, Equatable {
        public var outputHeight: Int
        public var outputWidth: Int
        public var padTop: Int
        public var padLeft: Int

        public init(outputHeight: Int, outputWidth: Int, padTop: Int, padLeft: Int) {
            self.outputHeight = outputHeight
            self.outputWidth = outputWidth
            self.padTop = padTop
            self.padLeft = padLeft
        }
    }

    /// The output size and leading padding on an input of the given size, or nil when the
    /// window does not fit (non-positive output) or the geometry is invalid.
    public func placement(inputHeight: Int, inputWidth: Int) -> Placement? {
        guard height > 0, width > 0, strideHeight > 0, strideWidth > 0, dilationHeight > 0, dilationWidth > 0,
              inputHeight > 0, inputWidth > 0 else { return nil }
        let spanHeight = (height - 1) * dilationHeight + 1, spanWidth = (width - 1) * dilationWidth + 1
        switch padding {
        case let .explicit(top, bottom, left, right):
            guard top >= 0, bottom >= 0, left >= 0, right >= 0 else { return nil }
            let outputHeight = (inputHeight + top + bottom - spanHeight) / strideHeight + 1
            let outputWidth = (inputWidth + left + right - spanWidth) / strideWidth + 1
            guard inputHeight + top + bottom >= spanHeight, inputWidth + left + right >= spanWidth else { return nil }
            return Placement(outputHeight: outputHeight, outputWidth: outputWidth, padTop: top, padLeft: left)
        case .same:
            let outputHeight = (inputHeight + strideHeight - 1) / strideHeight
            let outputWidth = (inputWidth + strideWidth - 1) / strideWidth
            let totalHeight = max((outputHeight - 1) * strideHeight + spanHeight - inputHeight, 0)
            let totalWidth = max((outputWidth - 1) * strideWidth + spanWidth - inputWidth, 0)
            return Placement(outputHeight: outputHeight, outputWidth: outputWidth,
                             padTop: totalHeight / 2, padLeft: totalWidth / 2)
        }
    }
}

/// A 2-D convolution over NHWC activations. Weights are laid out `[out, kernelHeight,
/// kernelWidth, in / groups]` ("OHWI", so a 1×1 convolution's weight is a linear layer's
/// `[out, in]`); front ends transpose PyTorch's OIHW and Keras' HWIO into it.
public struct Convolution2DAttributes: Sendable, Equatable, Codable {
    public var window: Window2D
    /// Channel groups: 1 for a dense convolution, `in` (= `out` · k) for depthwise.
    public var groups: Int

    public init(window: Window2D, groups: Int = 1) {
        self.window = window
        self.groups = groups
    }

    /// True when every group has one input channel (depthwise convolution).
    public func isDepthwise(inputChannels: Int) -> Bool {
        groups > 1 && groups == inputChannels
    }
}

/// Max or average pooling over a window of an NHWC tensor.
public struct Pool2DAttributes: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        case max
        case average
    }

    public var kind: Kind
    public var window: Window2D
    /// For average pooling: whether padded pixels count in the divisor (PyTorch's default
    /// `count_include_pad=True`) or not (Keras / TensorFlow).
    public var countsPadding: Bool

    public init(kind: Kind, window: Window2D, countsPadding: Bool = false) {
        self.kind = kind
        self.window = window
        self.countsPadding = countsPadding
    }
}
