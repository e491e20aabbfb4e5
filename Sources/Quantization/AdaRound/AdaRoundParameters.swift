import CAdaRound
import Foundation

/// The hyper-parameters of AdaRound (Nagel et al. 2020, "Up or Down? Adaptive Rounding for
/// Post-Training Quantization"), with AIMET's defaults.
///
/// Each weight `w` with grid scale `s` is rounded to `s·(⌊w/s⌋ + h(V))`, where the rectified
/// sigmoid `h(V) = clamp(sigmoid(V)·(ζ − γ) + γ, 0, 1)` relaxes the rounding bit. V starts
/// where `h(V)` equals the fractional part `w/s − ⌊w/s⌋` (so optimisation starts from the
/// unrounded weight) and is optimised with Adam on
/// `‖X·W̃ᵀ − T‖² / rows + λ·Σ(1 − |2h(V) − 1|^β)`; β is annealed from `betaStart` to `betaEnd`
/// by a cosine schedule after a warm start (no regulariser) of `warmStart` of the iterations.
/// At the end the bit is `h(V) ≥ ½`, i.e. `V ≥ 0`.
public struct AdaRoundParameters: Sendable, Equatable {
    /// Optimisation steps per layer.
    public var iterations: Int
    /// Calibration samples (sentences, images) drawn per step, without replacement.
    public var batchSize: Int
    /// λ, the weight of the rounding regulariser (AIMET: 0.01).
    public var regularization: Float
    /// β at the end of the warm start and at the last iteration.
    public var betaStart: Float
    public var betaEnd: Float
    /// Fraction of the iterations run without the regulariser.
    public var warmStart: Double
    /// Adam's step size, moment decays and ε (PyTorch's defaults, as AIMET uses them).
    public var learningRate: Float
    public var firstMomentDecay: Float
    public var secondMomentDecay: Float
    public var epsilon: Float
    /// Seed of the batch draws (and of the positions sampled from convolution outputs).
    public var seed: UInt64
    /// Convolutions: output positions (im2col rows) sampled from each calibration image, at
    /// most; every position of a smaller output is used.
    public var rowsPerSample: Int
    /// Convolutions: im2col rows kept per layer over all samples, at most (lowers the rows per
    /// sample when there are many samples).
    public var maximumRows: Int

    /// ζ and γ of the rectified sigmoid.
    public static let zeta: Float = 1.1
    public static let gamma: Float = -0.1

    /// AIMET's default iteration count: 10,000 for grids of 8 bits and more, 15,000 below.
    public static func defaultIterations(bits: Int) -> Int { bits >= 8 ? 10_000 : 15_000 }

    public init(iterations: Int, batchSize: Int = 8, regularization: Float = 0.01, betaStart: Float = 20, betaEnd: Float = 2,
                warmStart: Double = 0.2, learningRate: Float = 1e-3, firstMomentDecay: Float = 0.9,
                secondMomentDecay: Float = 0.999, epsilon: Float = 1e-8, seed: UInt64 = 0,
                rowsPerSample: Int = 256, maximumRows: Int = 50_000) {
        self.iterations = iterations
        self.batchSize = batchSize
        self.regularization = regularization
        self.betaStart = betaStart
        self.betaEnd = betaEnd
        self.warmStart = warmStart
        self.learningRate = learningRate
        self.firstMomentDecay = firstMomentDecay
        self.secondMomentDecay = secondMomentDecay
        self.epsilon = epsilon
        self.seed = seed
        self.rowsPerSample = rowsPerSample
        self.maximumRows = maximumRows
    }

    /// The first iteration that includes the regulariser: `⌈warmStart · iterations⌉` (AIMET
    /// skips it while `iteration < warmStart · iterations`).
    public var firstRegularizedIteration: Int {
        Int((warmStart * Double(iterations)).rounded(.up))
    }

    /// β at `iteration` (0-based), nil during the warm start: a cosine decay from `betaStart`
    /// at the end of the warm start towards `betaEnd` at `iterations`.
    public func beta(atIteration iteration: Int) -> Float? {
        guard iteration >= firstRegularizedIteration else { return nil }
        let warmEnd = warmStart * Double(iterations)
        let relative = (Double(iteration) - warmEnd) / (Double(iterations) - warmEnd)
        let cosine = 1 + cos(Double.pi * relative)
        return Float(Double(betaEnd) + 0.5 * Double(betaStart - betaEnd) * cosine)
    }

    /// The C kernel's constants for `iteration` (0-based).
    func kernelParameters(atIteration iteration: Int) -> aimet_adaround_parameters {
        let beta = beta(atIteration: iteration)
        let step = Double(iteration + 1)
        return aimet_adaround_parameters(
            zeta: Self.zeta, gamma: Self.gamma, regularization: beta == nil ? 0 : regularization, beta: beta ?? 0,
            learning_rate: learningRate, first_decay: firstMomentDecay, second_decay: secondMomentDecay, epsilon: epsilon,
            first_correction: Float(1 - pow(Double(firstMomentDecay), step)),
            second_correction: Float(1 - pow(Double(secondMomentDecay), step)))
    }

    /// h(V), the rectified sigmoid.
    public static func rectifiedSigmoid(_ value: Float) -> Float {
        let sigmoid = 1 / (1 + exp(-Double(value)))
        return Float(min(1, max(0, sigmoid * Double(zeta - gamma) + Double(gamma))))
    }

    /// The V whose h(V) is `fraction` (in [0, 1)): `−log((ζ − γ)/(fraction − γ) − 1)`.
    public static func initialValue(forFraction fraction: Float) -> Float {
        Float(-log(Double(zeta - gamma) / (Double(fraction) - Double(gamma)) - 1))
    }
}
