import AimetTestSupport
import Foundation
import ModelIO

/// Fixture and cache locations for the vision tests.
enum VisionFixtures {
    static var folder: URL { TestLocations.fixtures.appendingPathComponent("images") }

    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    static func json(_ name: String) throws -> JSONValue {
        try JSONParser.parse([UInt8](Data(contentsOf: folder.appendingPathComponent(name))), path: name)
    }

    /// A photo from scikit-image's data folder in the model cache.
    static func photo(_ file: String) throws -> DecodedImage {
        try ImageDecoder.decode(path: TestLocations.cached("scikit-image/skimage/data/" + file))
    }

    static var splitPath: String {
        TestLocations.repositoryRoot.appendingPathComponent("Calibration/images/split.tsv").path
    }

    static func integers(_ value: JSONValue?) -> [Int] { (value?.arrayValue ?? []).compactMap(\.intValue) }

    static func doubles(_ value: JSONValue?) -> [Double] { (value?.arrayValue ?? []).compactMap(\.doubleValue) }
}
