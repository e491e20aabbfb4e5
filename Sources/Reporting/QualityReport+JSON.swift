import ModelIO

extension QualityReport {
    /// The report as JSON (write with sorted keys).
    public var json: JSONValue {
        func speed(_ value: Speed?) -> JSONValue {
            guard let value else { return .null }
            return .object(JSONObject([
                ("latency_batch1_ms", .double(rounded(value.latencyMilliseconds, 3))),
                ("throughput_batch32_per_s", .double(rounded(value.throughputPerSecond, 2))),
            ]))
        }
        return .object(JSONObject([
            ("schema", .string(Self.schema)),
            ("schema_version", .integer(Self.schemaVersion)),
            ("reference", .string(referencePath)),
            ("candidate", .string(candidatePath)),
            ("recipe", recipe),
            ("input_file", .string(inputFile)),
            ("fidelity", .object(JSONObject([
                ("mean_cosine", .double(rounded(fidelity.meanCosine, 6))),
                ("p5_cosine", .double(rounded(fidelity.p5Cosine, 6))),
                ("min_cosine", .double(rounded(fidelity.minimumCosine, 6))),
                ("nearest_neighbour_agreement", .double(rounded(fidelity.nearestNeighbourAgreement, 6))),
                ("inputs", .integer(fidelity.inputCount)),
            ]))),
            ("layers", .array(layers.map { layer in
                .object(JSONObject([("name", .string(layer.name)), ("sqnr_db", .double(rounded(layer.decibels, 3)))]))
            })),
            ("speed", .object(JSONObject([("reference", speed(referenceSpeed)), ("candidate", speed(candidateSpeed))]))),
            ("size", .object(JSONObject([
                ("reference_bytes", .integer(referenceBytes)),
                ("candidate_bytes", .integer(candidateBytes)),
                ("ratio", .double(rounded(sizeRatio, 6))),
            ]))),
            ("notes", .array(notes.map { .string($0) })),
        ]))
    }

    /// Reads a report written by `json`; `path` names the source in errors.
    public init(json: JSONValue, path: String) throws {
        func fail(_ reason: String) -> ReportingError { .invalidReport(path: path, reason: reason) }
        guard json["schema"]?.stringValue == Self.schema else { throw fail("schema is not '\(Self.schema)'") }
        guard let version = json["schema_version"]?.intValue, version == Self.schemaVersion else {
            throw fail("schema_version \(json["schema_version"].map { JSONWriter().string($0) } ?? "missing") is not \(Self.schemaVersion)")
        }
        func number(_ value: JSONValue?, _ field: String) throws -> Double {
            guard let number = value?.doubleValue else { throw fail("'\(field)' is missing or not a number") }
            return number
        }
        func speed(_ value: JSONValue?) throws -> Speed? {
            guard let value, value != .null else { return nil }
            return Speed(latencyMilliseconds: try number(value["latency_batch1_ms"], "latency_batch1_ms"),
                         throughputPerSecond: try number(value["throughput_batch32_per_s"], "throughput_batch32_per_s"))
        }
        let fidelity = json["fidelity"]
        self.init(
            referencePath: json["reference"]?.stringValue ?? "",
            candidatePath: json["candidate"]?.stringValue ?? "",
            recipe: json["recipe"] ?? .null,
            inputFile: json["input_file"]?.stringValue ?? "",
            fidelity: Fidelity(
                meanCosine: try number(fidelity?["mean_cosine"], "fidelity.mean_cosine"),
                p5Cosine: try number(fidelity?["p5_cosine"], "fidelity.p5_cosine"),
                minimumCosine: try number(fidelity?["min_cosine"], "fidelity.min_cosine"),
                nearestNeighbourAgreement: try number(fidelity?["nearest_neighbour_agreement"], "fidelity.nearest_neighbour_agreement"),
                inputCount: fidelity?["inputs"]?.intValue ?? 0),
            layers: try (json["layers"]?.arrayValue ?? []).map { layer in
                // An identical layer has infinite SQNR, which JSON writes as null.
                LayerSQNR(name: layer["name"]?.stringValue ?? "",
                          decibels: layer["sqnr_db"] == .null ? .infinity : try number(layer["sqnr_db"], "layers.sqnr_db"))
            },
            referenceSpeed: try speed(json["speed"]?["reference"]),
            candidateSpeed: try speed(json["speed"]?["candidate"]),
            referenceBytes: json["size"]?["reference_bytes"]?.intValue ?? 0,
            candidateBytes: json["size"]?["candidate_bytes"]?.intValue ?? 0,
            notes: (json["notes"]?.arrayValue ?? []).compactMap(\.stringValue))
    }
}

func rounded(_ value: Double, _ digits: Int) -> Double {
    guard value.isFinite else { return value }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    return (value * scale).rounded() / scale
}
