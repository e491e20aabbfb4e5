import Foundation

extension AimetEncodingsDocument {
    /// The document as JSON in AIMET's `version` layout. Zero points are converted to AIMET
    /// offsets here (see `AimetGrid`). Entries keep their order in the 1.0.0 lists; in 0.6.1 they
    /// are object members (written sorted by `JSONWriter`).
    ///
    /// Throws `ModelIOError.invalidTensor` for an invalid entry, a repeated name, or a per-block
    /// or LPBQ entry asked for in 0.6.1 (which cannot express them).
    public func json(version: AimetEncodingVersion) throws -> JSONValue {
        try validate()
        var root = JSONObject()
        root["version"] = .string(version.rawValue)
        switch version {
        case .v1_0_0:
            root["activation_encodings"] = .array(activationEncodings.map(Self.entryVersion1))
            root["param_encodings"] = .array(parameterEncodings.map(Self.entryVersion1))
        case .v0_6_1:
            root["activation_encodings"] = .object(try Self.legacySection(activationEncodings))
            root["param_encodings"] = .object(try Self.legacySection(parameterEncodings))
        }
        root["excluded_layers"] = .array(excludedLayers.map(JSONValue.string))
        if let quantizerArguments {
            root["quantizer_args"] = .object(Self.quantizerArgumentsObject(quantizerArguments, version: version))
        }
        return .object(root)
    }

    /// The JSON text: keys sorted, indented by 4 spaces (as AIMET writes), newline at the end.
    public func jsonText(version: AimetEncodingVersion) throws -> String {
        JSONWriter(sortedKeys: true, indent: 4).string(try json(version: version)) + "\n"
    }

    /// Writes the document to `path` atomically.
    public func write(toPath path: String, version: AimetEncodingVersion) throws {
        try AtomicFile.write(Data(try jsonText(version: version).utf8), to: path)
    }

    // MARK: - Version 1.0.0

    private static func entryVersion1(_ encoding: AimetTensorEncoding) -> JSONValue {
        var entry = JSONObject()
        entry["name"] = .string(encoding.name)
        entry["dtype"] = .string(encoding.dataType.rawValue.uppercased())
        guard encoding.dataType == .int else {
            entry["enc_type"] = .string("PER_TENSOR")
            entry["bw"] = .integer(encoding.bitwidth)
            return .object(entry)
        }
        entry["is_sym"] = .bool(encoding.isSymmetric)
        entry["scale"] = .array(encoding.scales.map(number))
        switch encoding.granularity {
        case .perTensor, .perChannel, .perBlock:
            entry["enc_type"] = .string(encodingTypeName(encoding.granularity))
            entry["bw"] = .integer(encoding.bitwidth)
            entry["offset"] = .array(encoding.zeroPoints.map {
                .integer(AimetGrid.offset(zeroPoint: $0, bitwidth: encoding.bitwidth, isSymmetric: encoding.isSymmetric))
            })
            if let blockSize = encoding.blockSize { entry["block_size"] = .integer(blockSize) }
        case let .lowPowerBlock(_, _, blockSize, scaleBitwidth, integerScales):
            let decompressed = encoding.bitwidth + scaleBitwidth
            entry["enc_type"] = .string("LPBQ")
            entry["bw"] = .integer(decompressed)
            entry["compressed_bw"] = .integer(encoding.bitwidth)
            entry["block_size"] = .integer(blockSize)
            entry["per_block_int_scale"] = .array(integerScales.map { .integer($0) })
            let offset = AimetGrid.lowPowerBlockOffset(decompressedBitwidth: decompressed)
            entry["offset"] = .array(encoding.scales.map { _ in .integer(offset) })
        }
        return .object(entry)
    }

    /// AIMET's `enc_type` name for a granularity.
    static func encodingTypeName(_ granularity: AimetEncodingGranularity) -> String {
        switch granularity {
        case .perTensor: return "PER_TENSOR"
        case .perChannel: return "PER_CHANNEL"
        case .perBlock: return "PER_BLOCK"
        case .lowPowerBlock: return "LPBQ"
        }
    }

    // MARK: - Version 0.6.1

    private static func legacySection(_ encodings: [AimetTensorEncoding]) throws -> JSONObject {
        var section = JSONObject()
        for encoding in encodings {
            section[encoding.name] = .array(try legacyEntries(encoding))
        }
        return section
    }

    private static func legacyEntries(_ encoding: AimetTensorEncoding) throws -> [JSONValue] {
        guard encoding.dataType == .int else {
            return [.object(JSONObject([("bitwidth", .integer(encoding.bitwidth)), ("dtype", .string("float"))]))]
        }
        switch encoding.granularity {
        case .perTensor, .perChannel: break
        case .perBlock, .lowPowerBlock:
            throw ModelIOError.invalidTensor(
                tensor: encoding.name,
                reason: "\(encodingTypeName(encoding.granularity)) encodings cannot be written in the 0.6.1 layout; use 1.0.0")
        }
        return zip(encoding.scales, encoding.zeroPoints).map { scale, zeroPoint in
            let offset = AimetGrid.offset(zeroPoint: zeroPoint, bitwidth: encoding.bitwidth, isSymmetric: encoding.isSymmetric)
            let range = AimetGrid.range(scale: scale, offset: offset, bitwidth: encoding.bitwidth)
            return .object(JSONObject([
                ("bitwidth", .integer(encoding.bitwidth)),
                ("dtype", .string("int")),
                ("is_symmetric", .string(encoding.isSymmetric ? "True" : "False")),
                ("max", .double(range.max)),
                ("min", .double(range.min)),
                ("offset", .integer(offset)),
                ("scale", number(scale)),
            ]))
        }
    }

    // MARK: - Shared

    private static func quantizerArgumentsObject(_ arguments: AimetQuantizerArguments, version: AimetEncodingVersion) -> JSONObject {
        // 0.6.1 spells booleans as the strings "True" / "False"; 1.0.0 uses JSON booleans.
        func flag(_ value: Bool) -> JSONValue {
            version == .v0_6_1 ? .string(value ? "True" : "False") : .bool(value)
        }
        return JSONObject([
            ("activation_bitwidth", .integer(arguments.activationBitwidth)),
            ("dtype", .string(arguments.dataType.rawValue)),
            ("is_symmetric", flag(arguments.isSymmetric)),
            ("param_bitwidth", .integer(arguments.parameterBitwidth)),
            ("per_channel_quantization", flag(arguments.perChannelQuantization)),
            ("quant_scheme", .string(arguments.quantScheme)),
        ])
    }

    /// A float32 as its shortest round-tripping decimal (e.g. `0.1`, `1e-05`): reading the text
    /// back as float32 gives the same value, and the text is the same on every platform.
    static func number(_ value: Float) -> JSONValue {
        .number(String(value))
    }
}
