import Foundation
import QuantCore

/// The parameters of sequential MSE (AIMET's `apply_seq_mse`).
public struct SequentialMSEParameters: Sendable, Equatable {
    /// Candidate ranges per group: the group's weight range scaled by `k / candidates` for
    /// k = 1…candidates (AIMET's default: 20). The range estimator's own encoding is always a
    /// candidate too, so the search never ends worse than the estimator on the calibration rows.
    public var candidates: Int
    /// Convolutions: output positions sampled per calibration image, at most, and im2col rows per
    /// layer over all images, at most (the search evaluates every candidate on every row).
    public var rowsPerSample: Int
    public var maximumRows: Int
    /// Seed of the sampled positions.
    public var seed: UInt64

    public init(candidates: Int = 20, rowsPerSample: Int = 128, maximumRows: Int = 8192, seed: UInt64 = 0) {
        self.candidates = candidates
        self.rowsPerSample = rowsPerSample
        self.maximumRows = maximumRows
        self.seed = seed
    }

    /// The walk's row sampling (the AdaRound parameters that `SequentialLayerWalk` reads).
    var walkParameters: AdaRoundParameters {
        AdaRoundParameters(iterations: 0, seed: seed, rowsPerSample: rowsPerSample, maximumRows: maximumRows)
    }
}

/// What sequential MSE chose for one layer.
public struct SequentialMSELayerReport: Sendable, Equatable, Codable {
    public var node: String
    public var tensor: String
    /// Calibration rows the search was judged on.
    public var rows: Int
    /// Scale groups (output channels, or 1 per tensor), and how many got another range than
    /// the range estimator's.
    public var groups: Int
    public var changedGroups: Int
    /// Reconstruction loss (`‖X_q·Ŵᵀ − T‖²` summed over outputs, mean over rows) with the range
    /// estimator's encoding and with the chosen one.
    public var estimatorLoss: Double
    public var loss: Double

    enum CodingKeys: String, CodingKey {
        case node, tensor, rows, groups
        case changedGroups = "changed_groups"
        case estimatorLoss = "estimator_loss"
        case loss
    }
}

/// Sequential MSE on one layer (the search behind `SequentialMSE`): for each scale group, the
/// clipping range whose quantized weights reproduce the fp32 layer's output best on the
/// calibration rows, `argmin ‖X_q·Ŵᵀ − X_fp·Wᵀ‖²` over candidate ranges, where `X_q` are the
/// layer's inputs in the already-quantized model and `X_fp·Wᵀ` the fp32 targets (the loss
/// AdaRound minimises, so both techniques pull the same way). Output channels are independent
/// under this loss, so a per-channel encoding picks each channel's best candidate; a per-tensor
/// encoding picks the candidate with the least total.
public enum SequentialMSELayer {
    /// The chosen encoding (same scheme and scale shape as `encoding`) and the layer's losses.
    public struct Result: Sendable {
        public var encoding: Encoding
        /// `weight` fake-quantized with the chosen encoding (`[outputs, columns]`).
        public var quantizedWeight: Tensor
        public var estimatorLoss: Double
        public var loss: Double
        public var changedGroups: Int
    }

    /// Searches the ranges of `weight` (`[outputs, columns]`, the layer's matrix) for
    /// `encoding`'s scheme on `data`.
    /// - Returns: nil when the encoding is neither per-tensor nor per output channel.
    public static func search(weight: Tensor, encoding: Encoding, data: AdaRoundLayerData, parameters: SequentialMSEParameters,
                              tensorName: String, threads: Int) throws -> Result? {
        precondition(weight.rank == 2 && data.outputFeatures == weight.shape[0] && data.inputFeatures == weight.shape[1],
                     "data does not fit the weight")
        let outputs = weight.shape[0], columns = weight.shape[1]
        let perChannel: Bool
        switch encoding.scheme.granularity {
        case .perTensor where encoding.groupCount == 1: perChannel = false
        case .perChannel(axis: 0) where encoding.groupCount == outputs: perChannel = true
        default: return nil
        }
        let groups = perChannel ? outputs : 1
        var minimums = [Float](repeating: .infinity, count: groups), maximums = [Float](repeating: -.infinity, count: groups)
        for row in 0..<outputs {
            let group = perChannel ? row : 0
            for value in weight.scalars[(row * columns)..<((row + 1) * columns)] {
                minimums[group] = min(minimums[group], value)
                maximums[group] = max(maximums[group], value)
            }
        }
        // Candidate 0 is the estimator's encoding; candidate k scales every group's range by k/N.
        var candidates = [try Encoding(scheme: encoding.scheme, scaleShape: perChannel ? [outputs] : [], scales: encoding.scales,
                                       zeroPoints: encoding.zeroPoints)]
        let count = max(1, parameters.candidates)
        for step in 1...count {
            let fraction = Float(step) / Float(count)
            candidates.append(try Encoding(minimums: minimums.map { $0 * fraction }, maximums: maximums.map { $0 * fraction },
                                           scheme: encoding.scheme, shape: weight.shape, tensorName: tensorName))
        }
        var best = [Double](repeating: .infinity, count: groups)
        var choice = [Int](repeating: 0, count: groups)
        var estimatorLoss = 0.0
        var output = [Float](repeating: 0, count: data.rows * outputs)
        for (index, candidate) in candidates.enumerated() {
            let quantized = try Quantizer.fakeQuantize(weight, with: candidate, tensorName: tensorName)
            let losses = channelLosses(weight: quantized.scalars, data: data, output: &output, threads: threads)
            if index == 0 { estimatorLoss = losses.reduce(0, +) }
            if perChannel {
                for channel in 0..<outputs where losses[channel] < best[channel] {
                    (best[channel], choice[channel]) = (losses[channel], index)
                }
            } else {
                let total = losses.reduce(0, +)
                if total < best[0] { (best[0], choice[0]) = (total, index) }
            }
        }
        let scales = (0..<groups).map { candidates[choice[$0]].scales[$0] }
        let zeroPoints = (0..<groups).map { candidates[choice[$0]].zeroPoints[$0] }
        let chosen = try Encoding(scheme: encoding.scheme, scaleShape: encoding.scaleShape, scales: scales, zeroPoints: zeroPoints)
        let flatChosen = try Encoding(scheme: encoding.scheme, scaleShape: perChannel ? [outputs] : [], scales: scales, zeroPoints: zeroPoints)
        let quantizedWeight = try Quantizer.fakeQuantize(weight, with: flatChosen, tensorName: tensorName)
        let rows = Double(max(1, data.rows))
        return Result(encoding: chosen, quantizedWeight: quantizedWeight, estimatorLoss: estimatorLoss / rows,
                      loss: best.reduce(0, +) / rows, changedGroups: choice.filter { $0 != 0 }.count)
    }

    /// Squared reconstruction error of each output channel summed over `data`'s rows, for
    /// `weight` (`[outputs, columns]`); sums run in row blocks in a fixed order, so the result does
    /// not depend on `threads`.
    static func channelLosses(weight: [Float], data: AdaRoundLayerData, output: inout [Float], threads: Int) -> [Double] {
        let rows = data.rows, outputs = data.outputFeatures
        AdaRoundMath.layerOutput(weight: weight, data: data, into: &output, threads: threads)
        var losses = [Double](repeating: 0, count: outputs)
        output.withUnsafeBufferPointer { produced in
            data.targets.withUnsafeBufferPointer { targets in
                losses.withUnsafeMutableBufferPointer { sums in
                    for row in 0..<rows {
                        let base = row * outputs
                        for channel in 0..<outputs {
                            let difference = Double(produced[base + channel]) - Double(targets[base + channel])
                            sums[channel] += difference * difference
                        }
                    }
                }
            }
        }
        return losses
    }
}
