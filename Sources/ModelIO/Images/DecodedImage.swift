/// A decoded raster image: 8-bit samples, interleaved, rows top to bottom.
///
/// `channels` is 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA); the sample of channel `c`
/// at column `x`, row `y` is `samples[(y · width + x) · channels + c]`.
public struct DecodedImage: Sendable, Equatable {
    /// Pixels per row.
    public let width: Int
    /// Number of rows.
    public let height: Int
    /// Samples per pixel: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA.
    public let channels: Int
    /// `height · width · channels` samples, interleaved.
    public let samples: [UInt8]

    /// Creates an image from interleaved samples; returns nil when the sizes disagree or
    /// `channels` is not 1...4.
    public init?(width: Int, height: Int, channels: Int, samples: [UInt8]) {
        guard width > 0, height > 0, (1...4).contains(channels),
              width.multipliedReportingOverflow(by: height).overflow == false,
              samples.count == width * height * channels
        else { return nil }
        self.width = width
        self.height = height
        self.channels = channels
        self.samples = samples
    }

    /// True when the image has colour channels (RGB or RGBA).
    public var isColour: Bool { channels >= 3 }

    /// True when the last channel is alpha (grey + alpha or RGBA).
    public var hasAlpha: Bool { channels == 2 || channels == 4 }
}

/// An image decoded from a file, with the file name it came from.
public struct NamedImage: Sendable, Equatable {
    /// The file name without its folder (e.g. `chelsea.png`).
    public let name: String
    /// The decoded pixels.
    public let image: DecodedImage

    /// Pairs a name with an image.
    public init(name: String, image: DecodedImage) {
        self.name = name
        self.image = image
    }
}
