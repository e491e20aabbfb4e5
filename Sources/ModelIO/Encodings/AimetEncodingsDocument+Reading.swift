extension AimetEncodingsDocument {
    /// Reads an AIMET encodings file (see `init(json:path:)`).
    public init(contentsOfFile path: String) throws {
        let file = try MappedFile(path: path)
        try self.init(json: try JSONParser.parse(file.bytes, path: path), path: path)
    }

    /// Parses an AIMET encodings document. Accepts the 1.0.0 layout (lists of named entries)
    /// and the legacy layout (objects from name to per-channel lists) of versions 0.4.0, 0.5.0
    /// and 0.6.1; a file without `version` is 0.4.0, as AIMET's specification says. AIMET offsets
    /// become zero points in this project's convention (see `AimetGrid`).
    ///
    /// Errors: an unknown `version` → `unsupportedFormat`; a missing or mistyped field, an
    /// unknown `enc_type` or `dtype`, or an entry whose values are invalid (scale ≤ 0 or not
    /// finite, mismatched counts, an offset off the grid) → `invalidHeader` naming the tensor.
    public init(json: JSONValue, path: String) throws {
        self = try Self.parse(json, path: path)
    }

    private static func parse(_ json: JSONValue, path: String) throws -> AimetEncodingsDocument {
        guard let root = json.objectValue else { throw failure(path, "the document is not a JSON object") }
        var version = "0.4.0"
        if let value = root["version"] {
            guard let text = value.stringValue else { throw failure(path, "'version' is not a string") }
            version = text
        }
        let reader = EntryReader(path: path)
        var document = AimetEncodingsDocument()
        switch version {
        case AimetEncodingVersion.v1_0_0.rawValue:
            document.activationEncodings = try reader.section(root["activation_encodings"], key: "activation_encodings")
            document.parameterEncodings = try reader.section(root["param_encodings"], key: "param_encodings")
        case "0.4.0", "0.5.0", AimetEncodingVersion.v0_6_1.rawValue:
            document.activationEncodings = try reader.legacySection(root["activation_encodings"], key: "activation_encodings")
            document.parameterEncodings = try reader.legacySection(root["param_encodings"], key: "param_encodings")
        default:
            throw ModelIOError.unsupportedFormat(
                path: path, reason: "AIMET encodings version '\(version)' (supported: 1.0.0, 0.6.1, 0.5.0, 0.4.0)")
        }
        if let excluded = root["excluded_layers"] {
            let elements = excluded.arrayValue ?? []
            let names = elements.compactMap(\.stringValue)
            guard excluded.arrayValue != nil, names.count == elements.count else {
                throw failure(path, "'excluded_layers' is not a list of strings")
            }
            document.excludedLayers = names
        }
        if let arguments = root["quantizer_args"] {
            document.quantizerArguments = try reader.quantizerArguments(arguments)
        }
        do {
            try document.validate()
        } catch let error as ModelIOError {
            guard case let .invalidTensor(tensor, reason) = error else { throw error }
            throw failure(path, "tensor '\(tensor)': \(reason)")
        }
        return document
    }

    static func failure(_ path: String, _ reason: String) -> ModelIOError {
        .invalidHeader(path: path, reason: reason)
    }
}

/// Field-level parsing shared by both layouts; every error names the file and the tensor.
private struct EntryReader {
    let path: String

    func fail(_ tensor: String, _ reason: String) -> ModelIOError {
        AimetEncodingsDocument.failure(path, "tensor '\(tensor)': \(reason)")
    }

    func section(_ value: JSONValue?, key: String) throws -> [AimetTensorEncoding] {
        guard let value else { return [] }
        guard let elements = value.arrayValue else { throw AimetEncodingsDocument.failure(path, "'\(key)' is not a list") }
        return try elements.map { element in
            guard let object = element.objectValue else { throw AimetEncodingsDocument.failure(path, "an entry of '\(key)' is not an object") }
            return try entryVersion1(object)
        }
    }

    // MARK: - Version 1.0.0

    func entryVersion1(_ entry: JSONObject) throws -> AimetTensorEncoding {
        guard let name = entry["name"]?.stringValue else { throw AimetEncodingsDocument.failure(path, "an encoding has no string 'name'") }
        let dataType = try dataType(entry["dtype"], tensor: name)
        let bitwidth = try integer(entry["bw"], field: "bw", tensor: name)
        guard let typeName = entry["enc_type"]?.stringValue else { throw fail(name, "'enc_type' is missing or not a string") }
        if dataType == .float {
            guard typeName == "PER_TENSOR" else { throw fail(name, "float encodings are PER_TENSOR, not '\(typeName)'") }
            return .float(name: name, bitwidth: bitwidth)
        }
        guard let isSymmetric = entry["is_sym"]?.boolValue else { throw fail(name, "'is_sym' is missing or not a boolean") }
        let scales = try floats(entry["scale"], field: "scale", tensor: name)
        let offsets = try integers(entry["offset"], field: "offset", tensor: name)
        guard offsets.count == scales.count else { throw fail(name, "\(scales.count) scales but \(offsets.count) offsets") }
        switch typeName {
        case "PER_TENSOR", "PER_CHANNEL", "PER_BLOCK":
            let granularity: AimetEncodingGranularity
            switch typeName {
            case "PER_TENSOR": granularity = .perTensor
            case "PER_CHANNEL": granularity = .perChannel(axis: 0)
            default:
                granularity = .perBlock(channelAxis: 0, blockAxis: 1, blockSize: try integer(entry["block_size"], field: "block_size", tensor: name))
            }
            let zeroPoints = try offsets.map { try zeroPoint($0, bitwidth: bitwidth, isSymmetric: isSymmetric, tensor: name) }
            return AimetTensorEncoding(
                name: name, bitwidth: bitwidth, isSymmetric: isSymmetric, granularity: granularity,
                scales: scales, zeroPoints: zeroPoints)
        case "LPBQ":
            let compressed = try integer(entry["compressed_bw"], field: "compressed_bw", tensor: name)
            let blockSize = try integer(entry["block_size"], field: "block_size", tensor: name)
            let integerScales = try integers(entry["per_block_int_scale"], field: "per_block_int_scale", tensor: name)
            guard compressed >= 2, compressed < bitwidth else { throw fail(name, "compressed_bw \(compressed) must be in 2..<bw (\(bitwidth))") }
            guard isSymmetric else { throw fail(name, "LPBQ encodings are symmetric") }
            let expected = AimetGrid.lowPowerBlockOffset(decompressedBitwidth: bitwidth)
            if let bad = offsets.first(where: { $0 != expected }) {
                throw fail(name, "LPBQ offset \(bad) differs from −2^(bw−1) = \(expected)")
            }
            if let bad = integerScales.first(where: { !(0...Int64(UInt16.max)).contains($0) }) {
                throw fail(name, "per_block_int_scale value \(bad) is outside 0...65535")
            }
            return AimetTensorEncoding(
                name: name, bitwidth: compressed, isSymmetric: true,
                granularity: .lowPowerBlock(
                    channelAxis: 0, blockAxis: 1, blockSize: blockSize, scaleBitwidth: bitwidth - compressed,
                    integerScales: integerScales.map { UInt16($0) }),
                scales: scales)
        default:
            throw fail(name, "unknown enc_type '\(typeName)' (known: PER_TENSOR, PER_CHANNEL, PER_BLOCK, LPBQ)")
        }
    }

    // MARK: - Legacy layout (0.4.0 ... 0.6.1)

    func legacySection(_ value: JSONValue?, key: String) throws -> [AimetTensorEncoding] {
        guard let value else { return [] }
        guard let object = value.objectValue else { throw AimetEncodingsDocument.failure(path, "'\(key)' is not an object") }
        return try object.entries.map { name, channels in
            guard let channels = channels.arrayValue, !channels.isEmpty else { throw fail(name, "encodings are not a non-empty list") }
            return try legacyEncoding(name: name, channels: channels)
        }
    }

    private func legacyEncoding(name: String, channels: [JSONValue]) throws -> AimetTensorEncoding {
        var scales: [Float] = []
        var zeroPoints: [Int32] = []
        var common: (dataType: AimetDataType, bitwidth: Int, isSymmetric: Bool)?
        for channel in channels {
            guard let entry = channel.objectValue else { throw fail(name, "an encoding is not an object") }
            // dtype arrived in 0.5.0; earlier files are integer encodings.
            let dataType = entry["dtype"] == nil ? .int : try dataType(entry["dtype"], tensor: name)
            let bitwidth = try integer(entry["bitwidth"], field: "bitwidth", tensor: name)
            let isSymmetric = dataType == .int ? try legacyFlag(entry["is_symmetric"], field: "is_symmetric", tensor: name) : false
            if let common, common != (dataType, bitwidth, isSymmetric) {
                throw fail(name, "channels disagree on dtype, bitwidth or symmetry")
            }
            common = (dataType, bitwidth, isSymmetric)
            guard dataType == .int else { continue }
            guard let scale = entry["scale"].flatMap(float) else { throw fail(name, "'scale' is missing or not a number") }
            let offset = try integer(entry["offset"], field: "offset", tensor: name)
            scales.append(scale)
            zeroPoints.append(try zeroPoint(Int64(offset), bitwidth: bitwidth, isSymmetric: isSymmetric, tensor: name))
        }
        guard let common else { throw fail(name, "encodings are empty") }
        if common.dataType == .float {
            guard channels.count == 1 else { throw fail(name, "a float encoding has one entry, not \(channels.count)") }
            return .float(name: name, bitwidth: common.bitwidth)
        }
        return AimetTensorEncoding(
            name: name, bitwidth: common.bitwidth, isSymmetric: common.isSymmetric,
            granularity: scales.count == 1 ? .perTensor : .perChannel(axis: 0), scales: scales, zeroPoints: zeroPoints)
    }

    // MARK: - quantizer_args

    func quantizerArguments(_ value: JSONValue) throws -> AimetQuantizerArguments {
        let tensor = "quantizer_args"
        guard let object = value.objectValue else { throw AimetEncodingsDocument.failure(path, "'quantizer_args' is not an object") }
        guard let scheme = object["quant_scheme"]?.stringValue else { throw fail(tensor, "'quant_scheme' is missing or not a string") }
        return AimetQuantizerArguments(
            activationBitwidth: try integer(object["activation_bitwidth"], field: "activation_bitwidth", tensor: tensor),
            parameterBitwidth: try integer(object["param_bitwidth"], field: "param_bitwidth", tensor: tensor),
            dataType: try dataType(object["dtype"], tensor: tensor),
            isSymmetric: try legacyFlag(object["is_symmetric"], field: "is_symmetric", tensor: tensor),
            perChannelQuantization: try legacyFlag(object["per_channel_quantization"], field: "per_channel_quantization", tensor: tensor),
            quantScheme: scheme)
    }

    // MARK: - Fields

    private func dataType(_ value: JSONValue?, tensor: String) throws -> AimetDataType {
        guard let text = value?.stringValue else { throw fail(tensor, "'dtype' is missing or not a string") }
        guard let dataType = AimetDataType(rawValue: text.lowercased()) else {
            throw fail(tensor, "unknown dtype '\(text)' (known: int, float)")
        }
        return dataType
    }

    /// A boolean written as JSON `true`/`false` or as AIMET's strings "True"/"False".
    private func legacyFlag(_ value: JSONValue?, field: String, tensor: String) throws -> Bool {
        if let flag = value?.boolValue { return flag }
        switch value?.stringValue {
        case "True"?, "true"?: return true
        case "False"?, "false"?: return false
        default: throw fail(tensor, "'\(field)' is missing or not a boolean")
        }
    }

    /// An integer, also when written as an integral float (`-114.0`, as in AIMET's 0.4.0 examples).
    private func integer(_ value: JSONValue?, field: String, tensor: String) throws -> Int {
        guard let value, let integer = integerValue(value), let result = Int(exactly: integer) else {
            throw fail(tensor, "'\(field)' is missing or not an integer")
        }
        return result
    }

    private func integerValue(_ value: JSONValue) -> Int64? {
        if case let .number(text) = value, let exact = Int64(text) { return exact }
        guard let double = value.doubleValue, double.isFinite, double == double.rounded() else { return nil }
        return Int64(exactly: double)
    }

    private func integers(_ value: JSONValue?, field: String, tensor: String) throws -> [Int64] {
        guard let elements = value?.arrayValue else { throw fail(tensor, "'\(field)' is missing or not a list") }
        return try elements.map { element in
            guard let integer = integerValue(element) else { throw fail(tensor, "'\(field)' holds a non-integer") }
            return integer
        }
    }

    private func float(_ value: JSONValue) -> Float? {
        guard case let .number(text) = value else { return nil }
        return Float(text)
    }

    private func floats(_ value: JSONValue?, field: String, tensor: String) throws -> [Float] {
        guard let elements = value?.arrayValue else { throw fail(tensor, "'\(field)' is missing or not a list") }
        return try elements.map { element in
            guard let number = float(element) else { throw fail(tensor, "'\(field)' holds a non-number") }
            return number
        }
    }

    private func zeroPoint(_ offset: Int64, bitwidth: Int, isSymmetric: Bool, tensor: String) throws -> Int32 {
        guard (2...32).contains(bitwidth) else { throw fail(tensor, "integer bitwidth must be in 2...32, not \(bitwidth)") }
        guard let zeroPoint = AimetGrid.zeroPoint(offset: offset, bitwidth: bitwidth, isSymmetric: isSymmetric) else {
            let expected = isSymmetric
                ? "−2^(b−1) or −(2^(b−1) − 1) for a symmetric \(bitwidth)-bit encoding"
                : "in −(2^b − 1)...0 for an asymmetric \(bitwidth)-bit encoding"
            throw fail(tensor, "offset \(offset) is off the grid; expected \(expected)")
        }
        return zeroPoint
    }
}
