import Foundation
@testable import ModelIO
import QuantCore

/// Builds safetensors files byte by byte, so tests can write hostile ones.
enum SafetensorsFileBuilder {
    /// `lengthField` (defaults to the header's real length) as little-endian UInt64, then the
    /// header text, then `dataCount` bytes counting up from 0.
    static func bytes(header: String, dataCount: Int = 0, lengthField: UInt64? = nil) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        var output: [UInt8] = []
        withUnsafeBytes(of: (lengthField ?? UInt64(headerBytes.count)).littleEndian) { output.append(contentsOf: $0) }
        output.append(contentsOf: headerBytes)
        output.append(contentsOf: (0..<dataCount).map { UInt8(truncatingIfNeeded: $0) })
        return output
    }

    /// Reads a whole small file for comparisons (tests only; the library never does this).
    static func contents(of path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelIOError.fileNotFound(path: path)
        }
        return [UInt8](data)
    }

    /// Where two byte strings first differ, as a readable message; nil when they are equal.
    static func firstDifference(_ actual: [UInt8], _ expected: [UInt8]) -> String? {
        if actual == expected { return nil }
        let index = (0..<min(actual.count, expected.count)).first { actual[$0] != expected[$0] } ?? min(actual.count, expected.count)
        let show = { (bytes: [UInt8]) in
            String(decoding: bytes[min(index, bytes.count)..<min(index + 40, bytes.count)], as: UTF8.self).debugDescription
        }
        return "sizes \(actual.count) vs \(expected.count); first difference at byte \(index): \(show(actual)) vs \(show(expected))"
    }

    /// Writes `bytes` to a file called `name` in a fresh temporary folder; returns its path.
    static func write(_ bytes: [UInt8], name: String = "model.safetensors") throws -> String {
        let path = try FixturePaths.temporaryFolder().appendingPathComponent(name).path
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw ModelIOError.writeFailed(path: path, reason: "test could not create the file")
        }
        return path
    }

    /// Writes a file made of `header` and `dataCount` data bytes; returns its path.
    static func write(header: String, dataCount: Int = 0, lengthField: UInt64? = nil) throws -> String {
        try write(bytes(header: header, dataCount: dataCount, lengthField: lengthField))
    }
}

extension SafetensorsFileBuilder {
    /// The case name of `error`, so parameterised tests can name the error they expect.
    static func caseName(of error: ModelIOError) -> String {
        switch error {
        case .fileNotFound: return "fileNotFound"
        case .cannotOpen: return "cannotOpen"
        case .truncated: return "truncated"
        case .invalidHeader: return "invalidHeader"
        case .invalidJSON: return "invalidJSON"
        case .unknownDType: return "unknownDType"
        case .tensorOutOfBounds: return "tensorOutOfBounds"
        case .overlappingTensors: return "overlappingTensors"
        case .byteCountMismatch: return "byteCountMismatch"
        case .tensorNotFound: return "tensorNotFound"
        case .missingShard: return "missingShard"
        case .forbiddenPickleGlobal: return "forbiddenPickleGlobal"
        case .invalidPickle: return "invalidPickle"
        case .notHDF5: return "notHDF5"
        case .hdf5Failure: return "hdf5Failure"
        case .unsupportedFormat: return "unsupportedFormat"
        case .writeFailed: return "writeFailed"
        case .invalidTensor: return "invalidTensor"
        case .notAnImage: return "notAnImage"
        case .corruptImage: return "corruptImage"
        case .noDecodableImages: return "noDecodableImages"
        }
    }
}
