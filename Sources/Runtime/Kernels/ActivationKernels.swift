import CKernels
import Foundation
import ModelGraph

/// Element-wise activation functions, in place.
public enum ActivationKernels {
    /// Applies `kind` to every element of `values`.
    public static func apply(_ kind: ActivationKind, to values: UnsafeMutablePointer<Float>, count: Int, threads: Int) {
        let box = UncheckedSendable(values)
        Parallel.forEachChunk(count: count, chunkSize: 1 << 14, threads: threads) { range in
            let pointer = box.value
            switch kind {
            case .relu:
                for index in range { pointer[index] = max(pointer[index], 0) }
            case .relu6:
                for index in range { pointer[index] = min(max(pointer[index], 0), 6) }
            case .gelu:
                aimet_gelu_erf_f32(pointer + range.lowerBound, range.count)
            case .geluTanh:
                for index in range {
                    let x = pointer[index]
                    pointer[index] = 0.5 * x * (1 + tanh(0.79788456080286536 * (x + 0.044715 * x * x * x)))
                }
            case .silu:
                for index in range { pointer[index] = pointer[index] / (1 + exp(-pointer[index])) }
            case .sigmoid:
                for index in range { pointer[index] = 1 / (1 + exp(-pointer[index])) }
            case .tanh:
                for index in range { pointer[index] = tanh(pointer[index]) }
            }
        }
    }

    /// `min(max(x, 0), ceilings[c])` in place over rows of `ceilings.count` channels.
    public static func boundedReLU(_ values: UnsafeMutablePointer<Float>, rows: Int, ceilings: [Float], threads: Int) {
        let box = UncheckedSendable(values)
        let channels = ceilings.count
        Parallel.forEachChunk(count: rows, chunkSize: max(1, (1 << 14) / max(channels, 1)), threads: threads) { range in
            ceilings.withUnsafeBufferPointer { ceiling in
                for row in range {
                    let pointer = box.value + row * channels
                    for channel in 0..<channels { pointer[channel] = min(max(pointer[channel], 0), ceiling[channel]) }
                }
            }
        }
    }
}
