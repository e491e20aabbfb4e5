import ModelIO
import QuantCore
import Runtime

extension ClassifierCalibration.Techniques {
    /// The graph techniques `recipe` names, for an image classifier at `model`; `adaround` learns the
    /// rounding of the conv and linear layers (`ClassifierAdaRound`).
    public init(_ recipe: QuantizationRecipe, model: String) throws {
        self.init()
        equalization.replacesReLU6 = recipe.equalizationReplacesReLU6
        for technique in recipe.techniques {
            switch technique {
            case .batchNormFolding: foldsBatchNorms = true
            case .crossLayerEqualization: equalizes = true
            case .biasCorrection: correctsBias = true
            case .adaround: adaRounds = true
            case .sequentialMSE: searchesWeightRanges = true
            }
        }
    }
}

extension ImageClassifier {
    /// The images of `directory` as model inputs: each decodable image once (`views` = 1), or
    /// `views` augmented views of each (crops, scales, flips; deterministic for `seed`). Files
    /// that fail to decode are named in `warnings`; a folder with none that decode is an error.
    public func inputs(folder directory: String, views: Int = 1, seed: UInt64 = 0) throws -> (inputs: [NamedTensor], warnings: [String]) {
        let contents = try ImageFolder.load(directory: directory)
        let images = ImageSet.photoNames(of: contents.images)
        let photos = images.keys.sorted()
        let set = views > 1 ? ImageSet.augmented(photos: photos, itemsPerPhoto: views, seed: seed) : ImageSet.unaugmented(photos: photos)
        return (try inputs(for: set, images: images), contents.warnings)
    }
}
