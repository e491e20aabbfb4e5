import ModelIO
import QuantCore

/// One input of an image set: a photo seen through an augmentation. `name` (e.g.
/// `chelsea/crop0.75@0.00,1.00+flip`) lets reports say which input disagreed.
public struct ImageSetItem: Sendable, Hashable {
    /// The source photo's name (its file name without the extension).
    public let photo: String
    /// The crop and flip applied before the model's preprocessing.
    public let augmentation: ImageAugmentation

    /// Pairs a photo with an augmentation.
    public init(photo: String, augmentation: ImageAugmentation) {
        self.photo = photo
        self.augmentation = augmentation
    }

    /// `photo/augmentation`.
    public var name: String { "\(photo)/\(augmentation)" }
}

/// A model input made from an image-set item.
public struct NamedTensor: Sendable, Equatable {
    /// The item's name.
    public let name: String
    /// The preprocessed input, `[1, height, width, channels]`.
    public let tensor: Tensor
}

/// A deterministic list of augmented views of a set of photos (for calibration or evaluation).
///
/// Each photo gets `itemsPerPhoto` views. The first come from a fixed grid of 32: the whole
/// photo, and crops of scale 0.875, 0.75 and 0.625 at the centre and the four corners, each
/// unflipped and flipped, in an order shuffled per photo by the seed. Beyond 32, views are drawn
/// from the seed: scale uniform in [0.5, 1), position uniform, flip with probability ½. The
/// same photos, count and seed give the same items on every machine.
public struct ImageSet: Sendable, Equatable {
    /// The inputs, photo by photo in the order the photos were given.
    public let items: [ImageSetItem]

    /// An explicit list of items.
    public init(items: [ImageSetItem]) { self.items = items }

    /// The fixed grid of 32 augmentations (whole, then 3 scales × 5 positions; each unflipped and flipped).
    public static let augmentationGrid: [ImageAugmentation] = {
        var grid: [ImageAugmentation] = []
        let positions: [(Double, Double)] = [(0.5, 0.5), (0, 0), (1, 0), (0, 1), (1, 1)]
        for flipped in [false, true] {
            grid.append(ImageAugmentation(scale: 1, flipped: flipped))
            for scale in [0.875, 0.75, 0.625] {
                for (x, y) in positions {
                    grid.append(ImageAugmentation(scale: scale, horizontalPosition: x, verticalPosition: y, flipped: flipped))
                }
            }
        }
        return grid
    }()

    /// `itemsPerPhoto` augmented views of each photo (see the type's description).
    public static func augmented(photos: [String], itemsPerPhoto: Int, seed: UInt64) -> ImageSet {
        var items: [ImageSetItem] = []
        for photo in photos {
            var generator = SeededGenerator(seed: seed ^ stableHash(photo))
            var grid = augmentationGrid
            grid.shuffle(using: &generator)
            for index in 0..<max(itemsPerPhoto, 0) {
                if index < grid.count {
                    items.append(ImageSetItem(photo: photo, augmentation: grid[index]))
                } else {
                    let scale = Double.random(in: 0.5..<1, using: &generator)
                    let x = Double.random(in: 0...1, using: &generator)
                    let y = Double.random(in: 0...1, using: &generator)
                    let flipped = Bool.random(using: &generator)
                    items.append(ImageSetItem(photo: photo, augmentation: ImageAugmentation(
                        scale: scale, horizontalPosition: x, verticalPosition: y, flipped: flipped)))
                }
            }
        }
        return ImageSet(items: items)
    }

    /// Each photo once, whole and unflipped (e.g. for a user's folder of images).
    public static func unaugmented(photos: [String]) -> ImageSet {
        ImageSet(items: photos.map { ImageSetItem(photo: $0, augmentation: .identity) })
    }

    /// The distinct photos the items use, in first-use order.
    public var photos: [String] {
        var seen = Set<String>()
        return items.map(\.photo).filter { seen.insert($0).inserted }
    }

    /// The model inputs for every item, in item order. `images` maps photo names to decoded
    /// images; a photo without one is `RuntimeError.missingInput`.
    public func tensors(images: [String: DecodedImage], preprocessing: ImagePreprocessing) throws -> [NamedTensor] {
        try items.map { item in
            guard let image = images[item.photo] else { throw RuntimeError.missingInput(name: "image '\(item.photo)'") }
            return NamedTensor(name: item.name, tensor: preprocessing.tensor(from: image, augmentation: item.augmentation))
        }
    }

    /// Photo names for decoded folder images: the file name without its extension (the whole
    /// name when two files would share one).
    public static func photoNames(of images: [NamedImage]) -> [String: DecodedImage] {
        var stems: [String: Int] = [:]
        for image in images { stems[stem(image.name), default: 0] += 1 }
        var result: [String: DecodedImage] = [:]
        for image in images {
            let stem = stem(image.name)
            result[stems[stem] == 1 ? stem : image.name] = image.image
        }
        return result
    }

    static func stem(_ name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }

    /// FNV-1a over the UTF-8 bytes: a hash that is the same in every process (Swift's
    /// `Hasher` is seeded per process).
    static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return hash
    }
}
