import QuantCore
import Testing

@Suite struct TensorTests {
    @Test func elementCountOfShapes() {
        #expect(Tensor.elementCount(of: []) == 1)
        #expect(Tensor.elementCount(of: [0, 5]) == 0)
        #expect(Tensor.elementCount(of: [2, 3, 4]) == 24)
    }

    @Test func zerosHaveTheRightCount() {
        let tensor = Tensor(zeros: [3, 2])
        #expect(tensor.count == 6 && tensor.rank == 2 && tensor.scalars.allSatisfy { $0 == 0 })
    }

    @Test(arguments: DType.allCases)
    func dtypeNamesRoundTrip(dtype: DType) {
        #expect(DType(safetensorsName: dtype.safetensorsName) == dtype)
        #expect(dtype.byteSize > 0)
    }
}
