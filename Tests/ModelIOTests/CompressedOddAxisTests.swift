import Foundation
import ModelIO
import QuantCore
import Testing

/// 4-bit tensors whose last axis is odd (depthwise kernels [C, 3, 3, 1], a 3-channel stem)
/// cannot pair their columns into bytes: they are stored one value a byte as I8.
@Suite struct CompressedOddAxisTests {
    static func folder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("aimet-odd-\(UUID().uuidString)")
    }

    @Test(arguments: [true, false])
    func fourBitOddLastAxisRoundTrips(symmetric: Bool) throws {
        let shape = [4, 3, 3, 1]
        let count = shape.reduce(1, *)
        let values = (0..<count).map { Int32(symmetric ? ($0 % 15) - 7 : $0 % 16) }
        let depthwise = try QuantizedTensorRecord(name: "features.1.conv.0.0.weight", bits: 4, symmetric: symmetric, shape: shape,
                                                  values: values, scales: [0.5, 0.25, 0.125, 1], scaleShape: [4],
                                                  zeroPoints: symmetric ? nil : [8, 7, 0, 15])
        let even = try QuantizedTensorRecord(name: "classifier.weight", bits: 4, symmetric: symmetric, shape: [2, 4],
                                             values: values.prefix(8).map { $0 }, scales: [0.5], scaleShape: [],
                                             zeroPoints: symmetric ? nil : [3])
        let destination = Self.folder()
        defer { try? FileManager.default.removeItem(at: destination) }
        try CompressedModelWriter.write(CompressedModelContents(quantized: [depthwise, even], floats: [], recipe: .null, sourceSHA256: "",
                                                                activationEncodings: .object(JSONObject([])), extraFiles: [:]),
                                        copyingFrom: nil, to: destination.path)
        let model = try CompressedModel(folder: destination.path)
        let read = try model.record(named: depthwise.name)
        #expect(read.bits == 4 && read.shape == shape && read.values == values && read.symmetric == symmetric)
        #expect(read.scales == depthwise.scales && read.zeroPoints == depthwise.zeroPoints)
        // Stored one a byte (I8, original shape); the even-axis tensor stays packed (U8, last axis halved).
        let store = try SafetensorsStore(path: destination.appendingPathComponent("model.safetensors").path)
        #expect(store.info(named: depthwise.name + ".qdata")?.dtype == .int8)
        #expect(store.info(named: depthwise.name + ".qdata")?.shape == shape)
        #expect(store.info(named: even.name + ".qdata")?.dtype == .uint8)
        #expect(store.info(named: even.name + ".qdata")?.shape == [2, 2])
        #expect(try model.record(named: even.name).values == even.values)
        // The dequantized view keeps both shapes.
        let dequantized = model.dequantizedStore()
        let weight = try dequantized.floatTensor(named: depthwise.name)
        #expect(weight.shape == shape)
        #expect(weight.scalars[0] == Float(values[0] - (symmetric ? 0 : 8)) * 0.5)
        #expect(try dequantized.floatTensor(named: even.name).shape == [2, 4])
    }

}
