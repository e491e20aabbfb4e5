import ModelIO

/// How good and how fast a compressed model is against its fp32 reference. The JSON form
/// (`aimet-swift.quality`, versioned) is a contract: `compare` and CI read it.
public struct QualityReport: Sendable, Equatable {
    /// The schema this build writes and reads.
    public static let schema = "aimet-swift.quality"
    public static let schemaVersion = 1

    /// Embedding fidelity of the candidate against the reference on held-out inputs.
    public struct Fidelity: Sendable, Equatable {
        public var meanCosine: Double
        public var p5Cosine: Double
        public var minimumCosine: Double
        /// Share of inputs whose nearest neighbour (by cosine, among the other inputs) is
        /// the same under both models.
        public var nearestNeighbourAgreement: Double
        public var inputCount: Int

        public init(meanCosine: Double, p5Cosine: Double, minimumCosine: Double,
                    nearestNeighbourAgreement: Double, inputCount: Int) {
            self.meanCosine = meanCosine
            self.p5Cosine = p5Cosine
            self.minimumCosine = minimumCosine
            self.nearestNeighbourAgreement = nearestNeighbourAgreement
            self.inputCount = inputCount
        }
    }

    /// Speed of one model measured in the same run as the other.
    public struct Speed: Sendable, Equatable {
        /// Median milliseconds for one input (batch 1).
        public var latencyMilliseconds: Double
        /// Inputs per second at batch 32.
        public var throughputPerSecond: Double

        public init(latencyMilliseconds: Double, throughputPerSecond: Double) {
            self.latencyMilliseconds = latencyMilliseconds
            self.throughputPerSecond = throughputPerSecond
        }
    }

    /// SQNR of one layer's output in the candidate against the reference.
    public struct LayerSQNR: Sendable, Equatable {
        public var name: String
        public var decibels: Double
        public init(name: String, decibels: Double) {
            self.name = name
            self.decibels = decibels
        }
    }

    public var referencePath: String
    public var candidatePath: String
    /// The recipe the candidate was made with (a JSON object), when known.
    public var recipe: JSONValue
    public var inputFile: String
    public var fidelity: Fidelity
    public var layers: [LayerSQNR]
    public var referenceSpeed: Speed?
    public var candidateSpeed: Speed?
    /// Bytes of weights on disk (`*.safetensors`) of each model.
    public var referenceBytes: Int
    public var candidateBytes: Int
    /// Things a reader must know (quantizers kept at 16 bits, truncated inputs, ...).
    public var notes: [String]

    public init(referencePath: String, candidatePath: String, recipe: JSONValue, inputFile: String,
                fidelity: Fidelity, layers: [LayerSQNR], referenceSpeed: Speed?, candidateSpeed: Speed?,
                referenceBytes: Int, candidateBytes: Int, notes: [String]) {
        self.referencePath = referencePath
        self.candidatePath = candidatePath
        self.recipe = recipe
        self.inputFile = inputFile
        self.fidelity = fidelity
        self.layers = layers
        self.referenceSpeed = referenceSpeed
        self.candidateSpeed = candidateSpeed
        self.referenceBytes = referenceBytes
        self.candidateBytes = candidateBytes
        self.notes = notes
    }

    /// candidate ÷ reference bytes.
    public var sizeRatio: Double { referenceBytes > 0 ? Double(candidateBytes) / Double(referenceBytes) : 0 }

    /// candidate ÷ reference throughput at batch 32, when both were measured.
    public var throughputRatio: Double? {
        guard let reference = referenceSpeed, let candidate = candidateSpeed, reference.throughputPerSecond > 0 else { return nil }
        return candidate.throughputPerSecond / reference.throughputPerSecond
    }
}
