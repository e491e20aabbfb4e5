import QuantCore
import Testing

@Suite struct Int4PackingTests {
    @Test(arguments: [true, false])
    func everyPairOfNibblesRoundTrips(signed: Bool) throws {
        let range = Int4Packing.nibbleRange(signed: signed)
        var values = [Int32]()
        for low in range { for high in range { values += [low, high] } }
        let shape = [16, 32]
        let bytes = try Int4Packing.pack(values, shape: shape, signed: signed)
        #expect(bytes.count == 256)
        #expect(Set(bytes).count == 256) // all 256 byte patterns appear once
        #expect(try Int4Packing.unpack(bytes, shape: shape, signed: signed) == values)
    }

    @Test func evenColumnGoesToTheLowNibble() throws {
        #expect(try Int4Packing.pack([1, 2], shape: [2], signed: false) == [0x21])
        #expect(try Int4Packing.pack([15, 0, 0, 15], shape: [2, 2], signed: false) == [0x0F, 0xF0])
        #expect(try Int4Packing.pack([-1, 0], shape: [2], signed: true) == [0x0F])
        #expect(try Int4Packing.pack([-8, 7], shape: [2], signed: true) == [0x78])
        #expect(try Int4Packing.unpack([0x8F], shape: [2], signed: true) == [-1, -8])
        #expect(try Int4Packing.unpack([0x8F], shape: [2], signed: false) == [15, 8])
        #expect(try Int4Packing.packedShape(for: [384, 1536]) == [384, 768])
    }

    @Test(arguments: [(true, UInt64(1)), (false, 2), (true, 3), (false, 4)])
    func randomTensorsRoundTrip(signed: Bool, seed: UInt64) throws {
        var random = QuantizationTestRandom(seed: seed)
        let shape = [3, 5, 14]
        let range = Int4Packing.nibbleRange(signed: signed)
        let values = (0..<210).map { _ in Int32.random(in: range, using: &random) }
        let bytes = try Int4Packing.pack(values, shape: shape, signed: signed)
        #expect(bytes.count == 105)
        #expect(try Int4Packing.unpack(bytes, shape: shape, signed: signed) == values)
    }

    @Test func quantizedInt4WeightsRoundTripThroughPacking() throws {
        var random = QuantizationTestRandom(seed: 5)
        let weight = Tensor(shape: [8, 64], scalars: random.gaussian(512))
        for symmetry in [Symmetry.symmetric, .asymmetric] {
            let scheme = try QuantScheme(bits: 4, symmetry: symmetry, granularity: .perBlock(axis: 1, size: 32))
            let encoding = try RangeEstimator.minMax.encoding(of: weight, scheme: scheme, tensorName: "w")
            let quantized = try Quantizer.quantize(weight, with: encoding)
            let signed = symmetry == .symmetric
            let bytes = try Int4Packing.pack(quantized, shape: weight.shape, signed: signed)
            #expect(try Int4Packing.unpack(bytes, shape: weight.shape, signed: signed) == quantized)
        }
    }

    @Test func badInputIsRejected() {
        #expect(throws: QuantizationError.oddPackingDimension(shape: [4, 3])) { try Int4Packing.pack([Int32](repeating: 0, count: 12), shape: [4, 3], signed: true) }
        #expect(throws: QuantizationError.oddPackingDimension(shape: [])) { try Int4Packing.pack([0], shape: [], signed: true) }
        #expect(throws: QuantizationError.valueOutOfNibbleRange(index: 1, value: 8, signed: true)) { try Int4Packing.pack([0, 8], shape: [2], signed: true) }
        #expect(throws: QuantizationError.valueOutOfNibbleRange(index: 0, value: -1, signed: false)) { try Int4Packing.pack([-1, 0], shape: [2], signed: false) }
        #expect(throws: QuantizationError.self) { try Int4Packing.pack([0, 0, 0], shape: [2], signed: false) }
        #expect(throws: QuantizationError.self) { try Int4Packing.unpack([0, 0], shape: [2], signed: false) }
    }
}
