import QuantCore
import Testing

@Suite struct RangeObserverTests {
    static let estimators: [RangeEstimator] = [.minMax, .percentile(99.9), .sqnr, .mse]

    /// Batches whose ranges grow, shrink and shift, so the histogram re-bins several times.
    static func batches(seed: UInt64, channels: Int = 1) -> [Tensor] {
        var random = QuantizationTestRandom(seed: seed)
        return [0.01, 3, 0.5, 40, 7, 1e-3, 250].enumerated().map { index, spread in
            let rows = 3 + index % 4
            let shift = Float(index % 3) - 1
            let scalars = random.gaussian(rows * channels * 16, deviation: spread).map { $0 + shift }
            return Tensor(shape: [rows, channels, 16], scalars: scalars)
        }
    }

    static func concatenated(_ batches: [Tensor]) -> Tensor {
        let rows = batches.reduce(0) { $0 + $1.shape[0] }
        return Tensor(shape: [rows] + batches[0].shape.dropFirst(), scalars: batches.flatMap(\.scalars))
    }

    @Test(arguments: [Granularity.perTensor, .perChannel(axis: 1), .perChannel(axis: 2)])
    func batchesEqualOneShotExactly(granularity: Granularity) throws {
        let batches = Self.batches(seed: 1, channels: 5)
        var streamed = try RangeObserver(tensorName: "act", granularity: granularity)
        for batch in batches { try streamed.observe(batch) }
        var oneShot = try RangeObserver(tensorName: "act", granularity: granularity)
        try oneShot.observe(Self.concatenated(batches))
        #expect(streamed == oneShot)

        // Merging observers of two halves (in either order) is the same again.
        var first = try RangeObserver(tensorName: "act", granularity: granularity)
        var second = try RangeObserver(tensorName: "act", granularity: granularity)
        for batch in batches[..<3] { try first.observe(batch) }
        for batch in batches[3...] { try second.observe(batch) }
        var merged = second
        try merged.merge(first)
        #expect(merged == oneShot)
        try first.merge(second)
        #expect(first == oneShot)
        #expect(oneShot.observedCount == UInt64(batches.reduce(0) { $0 + $1.count }))

        for estimator in Self.estimators {
            for symmetry in [Symmetry.symmetric, .asymmetric] {
                let scheme = try QuantScheme(bits: 8, symmetry: symmetry, granularity: granularity)
                #expect(try streamed.encoding(scheme: scheme, estimator: estimator) == oneShot.encoding(scheme: scheme, estimator: estimator))
            }
        }
    }

    /// The channels-last fast path (`[tokens, hidden]` per hidden channel) against the general
    /// path on the transposed tensor.
    @Test func channelsLastPathMatchesTheGeneralPath() throws {
        var random = QuantizationTestRandom(seed: 12)
        let rows = 150
        let channels = 7
        let values = random.laplace(rows * channels)
        var transposed = [Float](repeating: 0, count: values.count)
        for row in 0..<rows { for channel in 0..<channels { transposed[channel * rows + row] = values[row * channels + channel] } }
        var last = try RangeObserver(tensorName: "x", granularity: .perChannel(axis: 1))
        try last.observe(Tensor(shape: [rows, channels], scalars: values))
        var first = try RangeObserver(tensorName: "x", granularity: .perChannel(axis: 0))
        try first.observe(Tensor(shape: [channels, rows], scalars: transposed))
        for estimator in Self.estimators {
            let a = try last.encoding(scheme: QuantScheme(bits: 4, symmetry: .asymmetric, granularity: .perChannel(axis: 1)), estimator: estimator)
            let b = try first.encoding(scheme: QuantScheme(bits: 4, symmetry: .asymmetric, granularity: .perChannel(axis: 0)), estimator: estimator)
            #expect(a.scales == b.scales && a.zeroPoints == b.zeroPoints)
        }
    }

    @Test func reversedBatchOrderGivesTheSameState() throws {
        let batches = Self.batches(seed: 2)
        var forward = try RangeObserver(tensorName: "a", binCount: 64)
        var backward = try RangeObserver(tensorName: "a", binCount: 64)
        for batch in batches { try forward.observe(batch) }
        for batch in batches.reversed() { try backward.observe(batch) }
        #expect(forward == backward)
    }

    @Test func flatBuffersAndTensorsAgree() throws {
        var random = QuantizationTestRandom(seed: 3)
        let values = random.laplace(1000)
        var fromBuffer = try RangeObserver(tensorName: "x")
        try values.withUnsafeBufferPointer { try fromBuffer.observe($0) }
        var fromTensor = try RangeObserver(tensorName: "x")
        try fromTensor.observe(Tensor(shape: [10, 100], scalars: values))
        #expect(fromBuffer == fromTensor)
        #expect(fromBuffer.minimums == [values.min()!] && fromBuffer.maximums == [values.max()!])
    }

    /// Histogram estimates agree with the exact-value estimates on a large sample.
    @Test(arguments: [RangeEstimator.percentile(99), .sqnr, .mse], [4, 8])
    func histogramEstimatesMatchExactOnes(estimator: RangeEstimator, bits: Int) throws {
        var random = QuantizationTestRandom(seed: 4)
        let tensor = Tensor(shape: [50_000], scalars: random.heavyTailed(50_000, outliers: 30))
        let scheme = try QuantScheme(bits: bits, symmetry: .symmetric, granularity: .perTensor)
        var observer = try RangeObserver(tensorName: "x")
        try observer.observe(tensor)
        let histogram = try observer.encoding(scheme: scheme, estimator: estimator)
        let exact = try estimator.encoding(of: tensor, scheme: scheme, tensorName: "x")
        let relative = abs(histogram.scales[0] - exact.scales[0]) / exact.scales[0]
        // One candidate step (1%) of the search, or 2% for the percentile's in-bin interpolation.
        #expect(relative <= 0.0201, "\(estimator) \(bits) bits: histogram scale \(histogram.scales[0]) vs exact \(exact.scales[0])")
    }

    @Test func rejectedBatchesLeaveTheObserverUnchanged() throws {
        var observer = try RangeObserver(tensorName: "encoder.layer.3.output")
        try observer.observe(Tensor(shape: [3], scalars: [1, 2, 3]))
        let before = observer
        do {
            try observer.observe(Tensor(shape: [3], scalars: [1, .nan, 3]))
            Issue.record("NaN accepted")
        } catch let error as QuantizationError {
            #expect(error == .nonFiniteValue(tensor: "encoder.layer.3.output", index: 1, value: .nan) || error.description.contains("encoder.layer.3.output"))
        }
        #expect(observer == before)

        var channels = try RangeObserver(tensorName: "c", granularity: .perChannel(axis: 1))
        try channels.observe(Tensor(zeros: [2, 4]))
        #expect(throws: QuantizationError.self) { try channels.observe(Tensor(zeros: [2, 5])) }
        #expect(throws: QuantizationError.self) { try [Float(1)].withUnsafeBufferPointer { try channels.observe($0) } }
        #expect(throws: QuantizationError.self) {
            try channels.encoding(scheme: QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perTensor), estimator: .minMax)
        }
        #expect(throws: QuantizationError.self) { try RangeObserver(tensorName: "b", granularity: .perBlock(axis: 1, size: 32)) }
        let empty = try RangeObserver(tensorName: "empty")
        #expect(throws: QuantizationError.observerMismatch(tensor: "empty", reason: "no values observed")) {
            try empty.encoding(scheme: QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perTensor), estimator: .sqnr)
        }
    }

    @Test func constantAndZeroInputsGiveUsableEncodings() throws {
        for value: Float in [0, 5, -1e30, 1e-30] {
            var observer = try RangeObserver(tensorName: "k")
            try observer.observe(Tensor(shape: [100], scalars: [Float](repeating: value, count: 100)))
            for estimator in Self.estimators {
                let scheme = try QuantScheme(bits: 8, symmetry: .asymmetric, granularity: .perTensor)
                let encoding = try observer.encoding(scheme: scheme, estimator: estimator)
                #expect(encoding.scales[0].isFinite && encoding.scales[0] > 0)
                let fake = try Quantizer.fakeQuantize(Tensor(shape: [2], scalars: [0, value]), with: encoding)
                #expect(fake.scalars[0] == 0)
                #expect(abs(fake.scalars[1] - value) <= encoding.scales[0] / 2 + abs(value).ulp * 4)
            }
        }
    }
}
