/// One crop-and-flip view of a photo, applied before a model's own preprocessing.
///
/// The crop keeps the photo's aspect ratio: it is `round(scale · width) × round(scale · height)`
/// pixels (at least 1), its left edge at `round(horizontalPosition · (width − cropWidth))`
/// and its top edge at `round(verticalPosition · (height − cropHeight))`, so positions 0, 0.5
/// and 1 are the left (top) edge, the centre and the right (bottom) edge. `flipped` mirrors
/// the model input left to right.
public struct ImageAugmentation: Sendable, Hashable, CustomStringConvertible {
    /// Crop side as a fraction of the photo's side, in (0, 1].
    public var scale: Double
    /// Where the crop sits horizontally, 0 (left) ... 1 (right).
    public var horizontalPosition: Double
    /// Where the crop sits vertically, 0 (top) ... 1 (bottom).
    public var verticalPosition: Double
    /// Mirror left to right.
    public var flipped: Bool

    /// Creates an augmentation; values outside their ranges are clamped.
    public init(scale: Double, horizontalPosition: Double = 0.5, verticalPosition: Double = 0.5, flipped: Bool = false) {
        self.scale = min(max(scale.isFinite ? scale : 1, 0.01), 1)
        self.horizontalPosition = min(max(horizontalPosition.isFinite ? horizontalPosition : 0.5, 0), 1)
        self.verticalPosition = min(max(verticalPosition.isFinite ? verticalPosition : 0.5, 0), 1)
        self.flipped = flipped
    }

    /// The whole photo, unflipped.
    public static let identity = ImageAugmentation(scale: 1)

    /// The crop in pixels of a `width × height` photo: left, top, width, height.
    public func crop(width: Int, height: Int) -> (left: Int, top: Int, width: Int, height: Int) {
        let cropWidth = min(max(Int((scale * Double(width)).rounded()), 1), width)
        let cropHeight = min(max(Int((scale * Double(height)).rounded()), 1), height)
        let left = Int((horizontalPosition * Double(width - cropWidth)).rounded())
        let top = Int((verticalPosition * Double(height - cropHeight)).rounded())
        return (left, top, cropWidth, cropHeight)
    }

    /// A short stable label, e.g. `crop0.75@0.00,1.00+flip`, or `whole` / `whole+flip`.
    public var description: String {
        let flip = flipped ? "+flip" : ""
        if scale == 1 { return "whole" + flip }
        return "crop\(Self.format(scale))@\(Self.format(horizontalPosition)),\(Self.format(verticalPosition))" + flip
    }

    private static func format(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + "\(fraction)"
    }
}
