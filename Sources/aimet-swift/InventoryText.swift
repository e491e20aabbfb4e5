import AimetSwift

/// Renders a checkpoint inventory as an aligned text table for the terminal.
enum InventoryText {
    static func render(_ inventory: CheckpointInventory, limit: Int) -> String {
        var lines: [String] = []
        lines.append("\(inventory.path)")
        lines.append("format: \(inventory.format.rawValue)")
        lines.append("")
        let shown = limit > 0 ? Array(inventory.entries.prefix(limit)) : inventory.entries
        let rows = shown.map { entry in
            [entry.name, entry.dtype, "[" + entry.shape.map(String.init).joined(separator: ", ") + "]",
             grouped(entry.parameters), byteSize(entry.bytes)]
        }
        lines.append(contentsOf: table(header: ["tensor", "dtype", "shape", "parameters", "bytes"], rows: rows))
        if shown.count < inventory.entries.count {
            lines.append("... \(inventory.entries.count - shown.count) more tensors (use --limit 0 to list all)")
        }
        lines.append("")
        lines.append("tensors: \(inventory.entries.count)   parameters: \(grouped(inventory.totalParameters))   data: \(byteSize(inventory.totalBytes))")
        for item in inventory.parametersByDType {
            lines.append("  \(item.dtype): \(item.tensors) tensors, \(grouped(item.parameters)) parameters")
        }
        lines.append(contentsOf: metadataLines(inventory.metadata))
        return lines.joined(separator: "\n")
    }

    private static func metadataLines(_ metadata: JSONValue) -> [String] {
        guard let object = metadata.objectValue, object.count > 0 else { return [] }
        var lines = ["", "metadata:"]
        for (key, value) in object.entries where key != "layers" {
            let text = value.stringValue ?? JSONWriter(sortedKeys: true).string(value)
            lines.append("  \(key): \(text.count > 200 ? String(text.prefix(200)) + "…" : text)")
        }
        if let layers = object["layers"]?.arrayValue {
            lines.append("  layers (\(layers.count)):")
            for layer in layers {
                let name = layer["name"]?.stringValue ?? "?"
                let kind = layer["class_name"]?.stringValue ?? "?"
                let inbound = layer["inbound"]?.arrayValue?.compactMap(\.stringValue) ?? []
                lines.append("    \(name) (\(kind))" + (inbound.isEmpty ? "" : " <- " + inbound.joined(separator: ", ")))
            }
        }
        return lines
    }

    static func table(header: [String], rows: [[String]]) -> [String] {
        var widths = header.map(\.count)
        for row in rows {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column >= 3 ? padding + cell : cell + padding
            }.joined(separator: "  ")
        }
        return [line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)
    }

    static func grouped(_ value: Int) -> String {
        let digits = Array(String(value))
        var output = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { output.append(",") }
            output.append(digit)
        }
        return output
    }

    static func byteSize(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let rounded = (value * 10).rounded() / 10
        return "\(rounded) \(units[unit])"
    }
}
