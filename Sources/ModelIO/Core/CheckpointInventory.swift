/// What a checkpoint holds: every tensor with its size, totals, and format metadata.
/// Its JSON form is the contract of `aimet-swift inspect --json`.
public struct CheckpointInventory: Sendable {
    /// One tensor's line of the inventory.
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let dtype: String
        public let shape: [Int]
        public let parameters: Int
        public let bytes: Int
    }

    /// The path the store was opened from.
    public let path: String
    /// The recognised format.
    public let format: WeightFormat
    /// Tensors in file order.
    public let entries: [Entry]
    /// Format metadata (a JSON object).
    public let metadata: JSONValue

    /// Builds the inventory of an open store (reads no tensor data).
    public init(store: any WeightStore) {
        path = store.path
        format = store.format
        entries = store.tensors.map {
            Entry(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, parameters: $0.elementCount, bytes: $0.byteCount)
        }
        metadata = store.metadata
    }

    /// Total elements over all tensors.
    public var totalParameters: Int { entries.reduce(0) { $0 + $1.parameters } }
    /// Total bytes of tensor data.
    public var totalBytes: Int { entries.reduce(0) { $0 + $1.bytes } }

    /// Tensor counts and parameter counts per dtype name.
    public var parametersByDType: [(dtype: String, tensors: Int, parameters: Int)] {
        var order: [String] = []
        var totals: [String: (Int, Int)] = [:]
        for entry in entries {
            if totals[entry.dtype] == nil { order.append(entry.dtype) }
            let current = totals[entry.dtype, default: (0, 0)]
            totals[entry.dtype] = (current.0 + 1, current.1 + entry.parameters)
        }
        return order.map { ($0, totals[$0]!.0, totals[$0]!.1) }
    }

    /// `{"tensors": [{"bytes","dtype","name","parameters","shape"}], "totals": {...},
    /// "metadata": {...}}`; write it with sorted keys.
    public var json: JSONValue {
        let tensors = entries.map { entry in
            JSONValue.object(JSONObject([
                ("name", .string(entry.name)),
                ("dtype", .string(entry.dtype)),
                ("shape", .array(entry.shape.map { .integer($0) })),
                ("parameters", .integer(entry.parameters)),
                ("bytes", .integer(entry.bytes)),
            ]))
        }
        let byDType = JSONObject(parametersByDType.map { item in
            (item.dtype, JSONValue.object(JSONObject([
                ("tensors", .integer(item.tensors)), ("parameters", .integer(item.parameters)),
            ])))
        })
        let totals = JSONObject([
            ("tensors", .integer(entries.count)),
            ("parameters", .integer(totalParameters)),
            ("bytes", .integer(totalBytes)),
            ("by_dtype", .object(byDType)),
        ])
        return .object(JSONObject([
            ("path", .string(path)),
            ("format", .string(format.rawValue)),
            ("tensors", .array(tensors)),
            ("totals", .object(totals)),
            ("metadata", metadata),
        ]))
    }
}
