import QuantCore
import Testing

@Suite struct HalfPrecisionTests {
    @Test(arguments: [
        (UInt16(0x0000), Float(0)), (0x3C00, 1), (0xC000, -2), (0x7BFF, 65504),
        (0x0001, 5.960464477539063e-08), (0x0400, 6.103515625e-05), (0x3555, 0.333251953125),
    ])
    func halfToFloatKnownValues(bits: UInt16, expected: Float) {
        #expect(HalfPrecision.float(fromHalfBits: bits) == expected)
    }

    @Test func halfSpecialValues() {
        #expect(HalfPrecision.float(fromHalfBits: 0x7C00) == .infinity)
        #expect(HalfPrecision.float(fromHalfBits: 0xFC00) == -.infinity)
        #expect(HalfPrecision.float(fromHalfBits: 0x7E00).isNaN)
        #expect(HalfPrecision.float(fromHalfBits: 0x8000).sign == .minus)
    }

    @Test func everyHalfRoundTripsThroughFloat() {
        for bits in UInt16.min...UInt16.max {
            let value = HalfPrecision.float(fromHalfBits: bits)
            if value.isNaN { continue }
            #expect(HalfPrecision.halfBits(from: value) == bits, "bits \(bits)")
        }
    }

    @Test func halfRoundingIsToNearestEven() {
        // 1 + 2^-11 lies exactly between 1 and the next half (1 + 2^-10): ties to even (1).
        #expect(HalfPrecision.halfBits(from: 1 + 0x1p-11) == 0x3C00)
        // 1 + 3·2^-11 lies between 1+2^-10 (odd) and 1+2^-9 (even): ties to even.
        #expect(HalfPrecision.halfBits(from: 1 + 3 * 0x1p-11) == 0x3C02)
        #expect(HalfPrecision.halfBits(from: 1e6) == 0x7C00)
    }

    @Test func bfloat16RoundTrips() {
        for bits in stride(from: 0, through: 0xFFFF, by: 7) {
            let value = HalfPrecision.float(fromBFloat16Bits: UInt16(bits))
            if value.isNaN { continue }
            #expect(HalfPrecision.bfloat16Bits(from: value) == UInt16(bits))
        }
        #expect(HalfPrecision.bfloat16Bits(from: 1.00390625) == 0x3F80) // tie rounds to even
    }
}
