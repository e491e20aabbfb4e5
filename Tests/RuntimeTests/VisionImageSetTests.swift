import AimetTestSupport
import Foundation
import ModelIO
import QuantCore
@testable import Runtime
import Testing

@Suite("Vision: image sets and the committed split")
struct VisionImageSetTests {
    @Test("the committed split: 8 calibration and 10 evaluation photos, disjoint by source")
    func committedSplit() throws {
        let split = try ImageSplit.load(path: VisionFixtures.splitPath)
        #expect(split.entries(.calibration).count == 8)
        #expect(split.entries(.evaluation).count == 10)
        let calibrationSources = Set(split.entries(.calibration).map(\.source))
        let evaluationSources = Set(split.entries(.evaluation).map(\.source))
        #expect(calibrationSources.isDisjoint(with: evaluationSources))
        let evaluation = split.evaluationSet()
        #expect(evaluation.items.count >= 300)
        #expect(Set(evaluation.items.map(\.name)).count == evaluation.items.count, "names must be unique")
        #expect(Set(evaluation.photos).isDisjoint(with: split.calibrationSet().photos))
        #expect(split.calibrationSet().items.count == 64)
    }

    @Test("every photo of the split decodes from the model cache")
    func photosDecode() throws {
        let split = try ImageSplit.load(path: VisionFixtures.splitPath)
        for role in [ImageSplit.Role.calibration, .evaluation] {
            let images = try split.decodeImages(role, cacheRoot: TestLocations.modelCache.path)
            #expect(images.count == split.entries(role).count)
            #expect(images.values.allSatisfy { $0.width >= 300 && $0.height >= 300 })
        }
    }

    @Test("the same seed gives the same items; another seed reorders them")
    func deterministic() {
        let photos = ["a", "b", "c"]
        let first = ImageSet.augmented(photos: photos, itemsPerPhoto: 40, seed: 7)
        #expect(first == ImageSet.augmented(photos: photos, itemsPerPhoto: 40, seed: 7))
        #expect(first != ImageSet.augmented(photos: photos, itemsPerPhoto: 40, seed: 8))
        #expect(first.items.count == 120)
        // The first 32 views of a photo are the whole grid, each once.
        let gridOfA = first.items.prefix(32).map(\.augmentation)
        #expect(Set(gridOfA) == Set(ImageSet.augmentationGrid))
        #expect(ImageSet.augmentationGrid.count == 32)
        #expect(first.items.map(\.photo) == Array(repeating: "a", count: 40) + Array(repeating: "b", count: 40)
            + Array(repeating: "c", count: 40))
        #expect(ImageSet.stableHash("a") == 0xAF63_DC4C_8601_EC8C)  // FNV-1a 64 reference value
    }

    @Test("item names say which photo and which view")
    func names() {
        let item = ImageSetItem(photo: "chelsea", augmentation: ImageAugmentation(
            scale: 0.75, horizontalPosition: 1, verticalPosition: 0, flipped: true))
        #expect(item.name == "chelsea/crop0.75@1.00,0.00+flip")
        #expect(ImageSetItem(photo: "rocket", augmentation: .identity).name == "rocket/whole")
    }

    @Test("crops keep the aspect ratio and sit at the requested corner")
    func crops() {
        let crop = ImageAugmentation(scale: 0.5, horizontalPosition: 1, verticalPosition: 1).crop(width: 451, height: 300)
        #expect(crop.width == 226 && crop.height == 150 && crop.left == 225 && crop.top == 150)
        let whole = ImageAugmentation.identity.crop(width: 451, height: 300)
        #expect(whole == (0, 0, 451, 300))
    }

    @Test("a crop equals the same recipe applied to the cropped pixels")
    func cropMatchesCroppedImage() throws {
        let image = try VisionFixtures.photo("chelsea.png")
        let augmentation = ImageAugmentation(scale: 0.5, horizontalPosition: 0.25, verticalPosition: 0.75)
        let crop = augmentation.crop(width: image.width, height: image.height)
        var samples: [UInt8] = []
        for row in crop.top..<crop.top + crop.height {
            let start = (row * image.width + crop.left) * 3
            samples += image.samples[start..<start + crop.width * 3]
        }
        let cropped = try #require(DecodedImage(width: crop.width, height: crop.height, channels: 3, samples: samples))
        let viaBox = ImagePreprocessing.imageNet.resampledSamples(from: image, augmentation: augmentation)
        let viaCopy = ImagePreprocessing.imageNet.resampledSamples(from: cropped)
        #expect(viaBox == viaCopy)
    }

    @Test("tensors for every item, named; a missing photo is a typed error")
    func tensors() throws {
        let image = try VisionFixtures.photo("coffee.png")
        let set = ImageSet.augmented(photos: ["coffee"], itemsPerPhoto: 3, seed: 1)
        let tensors = try set.tensors(images: ["coffee": image], preprocessing: .fer)
        #expect(tensors.map(\.name) == set.items.map(\.name))
        #expect(tensors.allSatisfy { $0.tensor.shape == [1, 64, 64, 1] })
        #expect(throws: RuntimeError.self) { try set.tensors(images: [:], preprocessing: .fer) }
    }

    @Test("folder images are keyed by file stem, whole name when stems collide")
    func photoNames() {
        let image = DecodedImage(width: 1, height: 1, channels: 1, samples: [0])!
        let names = ImageSet.photoNames(of: [NamedImage(name: "a.png", image: image), NamedImage(name: "a.jpg", image: image),
                                             NamedImage(name: "b.jpeg", image: image)])
        #expect(Set(names.keys) == ["a.png", "a.jpg", "b"])
    }

    @Test("split lists that mix a scene across roles, repeat a photo or are malformed are rejected", arguments: [
        ["calibration\ta\tscene\tx.png", "evaluation\tb\tscene\ty.png"],
        ["calibration\ta\ts1\tx.png", "evaluation\ta\ts2\ty.png"],
        ["calibration\ta\ts1"],
        ["training\ta\ts1\tx.png"],
    ])
    func badSplits(lines: [String]) {
        #expect(throws: RuntimeError.self) { try ImageSplit(lines: lines, path: "split.tsv") }
    }

    @Test("a missing split file is a typed error")
    func missingSplit() {
        #expect(throws: RuntimeError.missingFile(path: "/nonexistent/split.tsv")) {
            try ImageSplit.load(path: "/nonexistent/split.tsv")
        }
    }
}
