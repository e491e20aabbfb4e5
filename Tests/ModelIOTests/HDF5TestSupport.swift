import Foundation
@testable import ModelIO
import QuantCore
import Testing

/// Helpers shared by the HDF5 test suites.
enum HDF5TestSupport {
    static var fixtureFolder: URL { FixturePaths.fixtures.appendingPathComponent("hdf5") }

    static func fixture(_ name: String) -> String {
        fixtureFolder.appendingPathComponent(name).path
    }

    /// Parses a JSON fixture from `Tests/Fixtures/hdf5`.
    static func json(_ name: String) throws -> JSONValue {
        let path = fixture(name)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        return try JSONParser.parse(bytes, path: path)
    }

    /// Fails (never skips) when a real model file is absent.
    static func requireModel(_ path: String) throws {
        try #require(FileManager.default.fileExists(atPath: path),
                     "\(path) is missing: run `make models` to fetch the real models")
    }

    /// SHA-256 of the tensor's values as little-endian float32.
    static func floatDigest(_ tensor: Tensor) -> String {
        tensor.scalars.withUnsafeBytes { SHA256.hexDigest($0) }
    }

    /// Checks every tensor of `store` against a golden file: order, name, dtype, shape and
    /// the float32 digest of the values.
    static func expectMatchesGolden(_ store: HDF5Store, golden name: String) throws {
        let golden = try json(name)
        let entries = try #require(golden["tensors"]?.arrayValue)
        #expect(store.tensors.count == entries.count)
        for (info, entry) in zip(store.tensors, entries) {
            #expect(info.name == entry["name"]?.stringValue)
            #expect(info.dtype.rawValue == entry["dtype"]?.stringValue, "\(info.name)")
            #expect(info.shape == entry["shape"]?.arrayValue?.compactMap(\.intValue), "\(info.name)")
            let tensor = try store.floatTensor(named: info.name)
            #expect(floatDigest(tensor) == entry["sha256_float32"]?.stringValue, "\(info.name)")
        }
    }

    /// Writes `text` to a fresh file in `folder` and returns its path.
    static func writeFile(_ bytes: [UInt8], named name: String, in folder: URL) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }
}
