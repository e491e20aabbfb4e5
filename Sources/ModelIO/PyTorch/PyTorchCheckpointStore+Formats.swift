import QuantCore

/// The two container layouts of `torch.save`.
extension PyTorchCheckpointStore {
    // MARK: - Legacy stream

    /// Legacy layout: magic-number pickle, protocol-version pickle, system-info pickle,
    /// the object pickle, the storage-key list pickle, then for each listed key an 8-byte
    /// little-endian element count followed by the storage's raw bytes.
    static func loadLegacy(_ file: MappedFile) throws -> LoadedCheckpoint {
        let bytes = file.bytes
        let path = file.path
        let magic = try SafeUnpickler.parse(bytes, from: 0, path: path)
        guard magic.document.root == .bigInteger(legacyMagic) else {
            throw ModelIOError.unsupportedFormat(
                path: path, reason: "a pickle, but not a PyTorch checkpoint: the legacy magic number 0x1950a86a20f9469cfc6c is missing")
        }
        let version = try SafeUnpickler.parse(bytes, from: magic.end, path: path)
        guard version.document.root == .int(1001) else {
            throw ModelIOError.unsupportedFormat(path: path, reason: "legacy protocol version is \(version.document.root), only 1001 is known")
        }
        let systemInfo = try SafeUnpickler.parse(bytes, from: version.end, path: path)
        let information = systemInfo.document.dictionary(systemInfo.document.root)
        guard let information, information[string: "little_endian"] == .bool(true) else {
            throw ModelIOError.unsupportedFormat(path: path, reason: "the checkpoint was written on a big-endian machine (or its system info is missing)")
        }
        let objects = try SafeUnpickler.parse(bytes, from: systemInfo.end, path: path)
        let keyList = try SafeUnpickler.parse(bytes, from: objects.end, path: path)
        guard let keys = keyList.document.sequence(keyList.document.root) else {
            throw ModelIOError.invalidPickle(path: path, offset: objects.end, reason: "the storage-key list is \(keyList.document.root.kindName), not a list")
        }
        let references = try storageReferences(in: objects.document, path: path)

        var starts: [String: Int] = [:]
        var cursor = keyList.end
        for key in keys {
            guard case .string(let name) = key else {
                throw ModelIOError.invalidPickle(path: path, offset: objects.end, reason: "storage key \(key.kindName) is not a string")
            }
            guard let reference = references[name] else {
                throw ModelIOError.invalidHeader(path: path, reason: "storage '\(name)' is listed but no object refers to it, so its element size is unknown")
            }
            guard cursor <= bytes.count - 8 else {
                throw ModelIOError.truncated(path: path, reason: "storage '\(name)' should start at byte \(cursor), the file has \(bytes.count) bytes")
            }
            let count = ZipArchive.read64(bytes, cursor)
            guard count == UInt64(reference.elementCount) else {
                throw ModelIOError.byteCountMismatch(
                    path: path, tensor: "storage \(name)",
                    expected: reference.elementCount.multipliedReportingOverflow(by: reference.dtype.byteSize).partialValue,
                    actual: count <= UInt64(Int.max / 8) ? Int(count) * reference.dtype.byteSize : Int.max)
            }
            let (byteCount, overflow) = reference.elementCount.multipliedReportingOverflow(by: reference.dtype.byteSize)
            guard !overflow, byteCount <= bytes.count - cursor - 8 else {
                throw ModelIOError.truncated(
                    path: path, reason: "storage '\(name)' needs \(byteCount) bytes at byte \(cursor + 8), the file has \(bytes.count)")
            }
            guard starts.updateValue(cursor + 8, forKey: name) == nil else {
                throw ModelIOError.invalidHeader(path: path, reason: "storage '\(name)' is listed twice")
            }
            cursor += 8 + byteCount
        }
        var metadata = JSONObject()
        metadata["format"] = .string(WeightFormat.pytorchLegacy.rawValue)
        metadata["torch_legacy_format"] = .bool(true)
        metadata["torch_protocol_version"] = .integer(1001)
        metadata["pickle_protocol"] = .integer(objects.document.protocolVersion)
        return LoadedCheckpoint(document: objects.document, storageStarts: starts, metadata: metadata)
    }

    // MARK: - Zip archive

    /// Zip layout: `<prefix>/data.pkl`, `<prefix>/data/<key>` per storage, and
    /// `<prefix>/byteorder` in files written by torch ≥ 2.1.
    static func loadZip(_ file: MappedFile) throws -> LoadedCheckpoint {
        let path = file.path
        let archive = try ZipArchive(file: file)
        guard let pickleEntry = archive.entries.first(where: { entry in
            let parts = entry.name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "data.pkl" && !parts[0].isEmpty
        }) else {
            throw ModelIOError.unsupportedFormat(path: path, reason: "a zip archive without <prefix>/data.pkl is not a PyTorch checkpoint")
        }
        let prefix = String(pickleEntry.name.dropLast("/data.pkl".count))

        var byteOrder = "little"
        if let orderEntry = archive.entry(named: prefix + "/byteorder") {
            let text = String(decoding: file.slice(try archive.dataRange(of: orderEntry)), as: UTF8.self)
            guard text == "little" || text == "big" else {
                throw ModelIOError.invalidHeader(path: path, reason: "zip entry '\(orderEntry.name)' says '\(text.prefix(20))', expected 'little' or 'big'")
            }
            guard text == "little" else {
                throw ModelIOError.unsupportedFormat(path: path, reason: "the checkpoint stores big-endian tensors; only little-endian checkpoints are supported")
            }
            byteOrder = text
        }

        let document: PickleDocument
        do {
            document = try SafeUnpickler.parse(file.slice(try archive.dataRange(of: pickleEntry)), path: path)
        } catch ModelIOError.invalidPickle(let errorPath, let offset, let reason) {
            throw ModelIOError.invalidPickle(path: errorPath, offset: offset, reason: "\(reason) (offset inside zip entry '\(pickleEntry.name)')")
        }
        let references = try storageReferences(in: document, path: path)
        var starts: [String: Int] = [:]
        for key in references.keys.sorted() {
            let reference = references[key]!
            let entryName = "\(prefix)/data/\(key)"
            guard let entry = archive.entry(named: entryName) else {
                throw ModelIOError.invalidHeader(path: path, reason: "zip entry '\(entryName)' holding storage '\(key)' is missing")
            }
            let range = try archive.dataRange(of: entry)
            let needed = reference.elementCount.multipliedReportingOverflow(by: reference.dtype.byteSize)
            guard !needed.overflow, needed.partialValue <= range.count else {
                throw ModelIOError.byteCountMismatch(
                    path: path, tensor: "storage \(key)",
                    expected: needed.overflow ? Int.max : needed.partialValue, actual: range.count)
            }
            starts[key] = range.lowerBound
        }
        var metadata = JSONObject()
        metadata["format"] = .string(WeightFormat.pytorchZip.rawValue)
        metadata["prefix"] = .string(prefix)
        metadata["byteorder"] = .string(byteOrder)
        metadata["pickle_protocol"] = .integer(document.protocolVersion)
        if let versionEntry = archive.entry(named: prefix + "/version"), let range = try? archive.dataRange(of: versionEntry), range.count <= 32 {
            let text = String(decoding: file.slice(range), as: UTF8.self).trimmingCharacters(in: "\n ")
            if let number = Int(text) { metadata["archive_version"] = .integer(number) }
        }
        return LoadedCheckpoint(document: document, storageStarts: starts, metadata: metadata)
    }

    // MARK: - Storages

    /// Every storage the pickle names, by key. References to one key must agree on the
    /// element type; the largest element count is kept (it is checked against the bytes).
    static func storageReferences(in document: PickleDocument, path: String) throws -> [String: PickleStorageReference] {
        var references: [String: PickleStorageReference] = [:]
        func record(_ value: PickleValue) throws {
            guard case .storage(let reference) = value else { return }
            guard let known = references[reference.key] else {
                references[reference.key] = reference
                return
            }
            guard known.dtype == reference.dtype else {
                throw ModelIOError.unsupportedFormat(
                    path: path, reason: "storage '\(reference.key)' is used as both \(known.dtype.rawValue) and \(reference.dtype.rawValue)")
            }
            if reference.elementCount > known.elementCount { references[reference.key] = reference }
        }
        try record(document.root)
        for tensor in document.tensors { try record(.storage(tensor.storage)) }
        for items in document.tuples { for item in items { try record(item) } }
        for items in document.lists { for item in items { try record(item) } }
        for dictionary in document.dicts { for item in dictionary.values { try record(item) } }
        return references
    }
}

extension String {
    /// The string without leading and trailing characters from `set`.
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        let trimmedFront = drop { characters.contains($0) }
        return String(trimmedFront.reversed().drop { characters.contains($0) }.reversed())
    }
}
