/// Error measures between a reference and its quantized approximation, accumulated in `Double`.
public enum QuantizationMetrics {
    private static func checkLengths(_ reference: [Float], _ approximation: [Float]) throws {
        guard reference.count == approximation.count else {
            throw QuantizationError.lengthMismatch(what: "approximation", expected: reference.count, actual: approximation.count)
        }
    }

    /// Signal-to-quantization-noise ratio in dB: `10·log10(Σx² / Σ(x − x̂)²)`; `+∞` when the two
    /// are equal (also for two all-zero inputs), `−∞` when the reference is all zero and the
    /// approximation is not.
    public static func sqnr(reference: [Float], approximation: [Float]) throws -> Double {
        try checkLengths(reference, approximation)
        var signal = 0.0
        var noise = 0.0
        for index in reference.indices {
            let value = Double(reference[index])
            let difference = value - Double(approximation[index])
            signal += value * value
            noise += difference * difference
        }
        if noise == 0 { return .infinity }
        return 10 * (signal / noise).log10
    }

    /// Cosine similarity `x·y / (|x||y|)`; 1 for two all-zero vectors, 0 when only one is zero.
    public static func cosineSimilarity(_ left: [Float], _ right: [Float]) throws -> Double {
        try checkLengths(left, right)
        var dot = 0.0
        var leftNorm = 0.0
        var rightNorm = 0.0
        for index in left.indices {
            let a = Double(left[index])
            let b = Double(right[index])
            dot += a * b
            leftNorm += a * a
            rightNorm += b * b
        }
        if leftNorm == 0 && rightNorm == 0 { return 1 }
        if leftNorm == 0 || rightNorm == 0 { return 0 }
        return dot / (leftNorm.squareRoot() * rightNorm.squareRoot())
    }

    /// Mean squared error; 0 for empty inputs.
    public static func meanSquaredError(reference: [Float], approximation: [Float]) throws -> Double {
        try checkLengths(reference, approximation)
        guard !reference.isEmpty else { return 0 }
        var sum = 0.0
        for index in reference.indices {
            let difference = Double(reference[index]) - Double(approximation[index])
            sum += difference * difference
        }
        return sum / Double(reference.count)
    }

    /// Largest absolute difference; 0 for empty inputs.
    public static func maximumAbsoluteError(reference: [Float], approximation: [Float]) throws -> Double {
        try checkLengths(reference, approximation)
        var largest = 0.0
        for index in reference.indices {
            largest = max(largest, abs(Double(reference[index]) - Double(approximation[index])))
        }
        return largest
    }

    /// KL divergence `Σ p·ln(p/q)` in nats of two probability vectors. Terms with `p = 0` are 0;
    /// a `q = 0` where `p > 0` gives `+∞`.
    public static func klDivergence(probabilities p: [Float], _ q: [Float]) throws -> Double {
        try checkLengths(p, q)
        var sum = 0.0
        for index in p.indices where p[index] > 0 {
            let pValue = Double(p[index])
            let qValue = Double(q[index])
            if qValue <= 0 { return .infinity }
            sum += pValue * (pValue / qValue).logarithm
        }
        return sum
    }

    /// Mean over rows of `KL(softmax(reference row) ‖ softmax(candidate row))` in nats, for
    /// logits stored row-major with `rowLength` values a row. Softmax is computed stably in Double.
    public static func klDivergence(referenceLogits: [Float], candidateLogits: [Float], rowLength: Int) throws -> Double {
        try checkLengths(referenceLogits, candidateLogits)
        guard rowLength > 0, referenceLogits.count % rowLength == 0 else {
            throw QuantizationError.lengthMismatch(what: "logits (a multiple of the row length \(rowLength))",
                                                   expected: (referenceLogits.count / max(rowLength, 1)) * max(rowLength, 1),
                                                   actual: referenceLogits.count)
        }
        let rows = referenceLogits.count / rowLength
        guard rows > 0 else { return 0 }
        var total = 0.0
        for row in 0..<rows {
            let slice = row * rowLength..<(row + 1) * rowLength
            let logP = logSoftmax(referenceLogits[slice])
            let logQ = logSoftmax(candidateLogits[slice])
            var sum = 0.0
            for index in logP.indices { sum += logP[index].exponential * (logP[index] - logQ[index]) }
            total += sum
        }
        return total / Double(rows)
    }

    private static func logSoftmax(_ logits: ArraySlice<Float>) -> [Double] {
        let largest = Double(logits.max() ?? 0)
        var sum = 0.0
        for value in logits { sum += (Double(value) - largest).exponential }
        let logSum = largest + sum.logarithm
        return logits.map { Double($0) - logSum }
    }
}
