/// A minimal read-only ZIP reader over a memory-mapped file, enough for PyTorch's zip
/// checkpoints: end of central directory (with its zip64 variants), central directory
/// entries with zip64 extra fields, and local headers. Entry data are zero-copy slices
/// of the mapping; only STORED (uncompressed) entries can be read.
struct ZipArchive {
    /// One file in the archive.
    struct Entry {
        let name: String
        /// 0 = stored; anything else is compressed.
        let compressionMethod: UInt16
        let compressedSize: Int
        let uncompressedSize: Int
        let localHeaderOffset: Int
    }

    let file: MappedFile
    /// Entries in central-directory order.
    let entries: [Entry]
    private let positions: [String: Int]

    private static let endOfCentralDirectorySignature: UInt32 = 0x0605_4B50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    private static let zip64EndSignature: UInt32 = 0x0606_4B50
    private static let centralEntrySignature: UInt32 = 0x0201_4B50
    private static let localHeaderSignature: UInt32 = 0x0403_4B50

    init(file: MappedFile) throws {
        self.file = file
        let bytes = file.bytes
        let path = file.path
        func invalid(_ reason: String) -> ModelIOError { .invalidHeader(path: path, reason: "zip: \(reason)") }

        // The end-of-central-directory record is 22 bytes plus a comment of up to 65535.
        guard bytes.count >= 22 else { throw ModelIOError.truncated(path: path, reason: "zip: file is shorter than an end-of-central-directory record") }
        var endOffset: Int?
        var candidate = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 65_535)
        while candidate >= lowest {
            if ZipArchive.read32(bytes, candidate) == ZipArchive.endOfCentralDirectorySignature {
                endOffset = candidate
                break
            }
            candidate -= 1
        }
        guard let endOffset else {
            throw ModelIOError.truncated(path: path, reason: "zip: no end-of-central-directory record (the archive is cut short or damaged)")
        }
        guard endOffset + 22 + Int(ZipArchive.read16(bytes, endOffset + 20)) <= bytes.count else {
            throw ModelIOError.truncated(path: path, reason: "zip: the archive comment runs past the end of the file")
        }
        var entryCount = Int(ZipArchive.read16(bytes, endOffset + 10))
        var directorySize = Int(ZipArchive.read32(bytes, endOffset + 12))
        var directoryOffset = Int(ZipArchive.read32(bytes, endOffset + 16))
        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // Zip64: a 20-byte locator sits just before the classic record.
            let locator = endOffset - 20
            guard locator >= 56, ZipArchive.read32(bytes, locator) == ZipArchive.zip64LocatorSignature else {
                throw invalid("zip64 end-of-central-directory locator is missing")
            }
            let recordOffset = ZipArchive.read64(bytes, locator + 8)
            guard recordOffset <= UInt64(locator - 56), ZipArchive.read32(bytes, Int(recordOffset)) == ZipArchive.zip64EndSignature else {
                throw invalid("zip64 end-of-central-directory record is missing")
            }
            let record = Int(recordOffset)
            let count64 = ZipArchive.read64(bytes, record + 32)
            let size64 = ZipArchive.read64(bytes, record + 40)
            let offset64 = ZipArchive.read64(bytes, record + 48)
            guard size64 <= UInt64(bytes.count), offset64 <= UInt64(bytes.count), count64 <= UInt64(bytes.count) else {
                throw invalid("zip64 central directory lies outside the file")
            }
            entryCount = Int(count64)
            directorySize = Int(size64)
            directoryOffset = Int(offset64)
        }
        guard directoryOffset <= bytes.count, directorySize <= bytes.count - directoryOffset else {
            throw ModelIOError.truncated(path: path, reason: "zip: central directory [\(directoryOffset), +\(directorySize)) lies outside the \(bytes.count)-byte file")
        }
        guard entryCount <= directorySize / 46 else {
            throw invalid("\(entryCount) entries cannot fit in a \(directorySize)-byte central directory")
        }

        var entries: [Entry] = []
        var positions: [String: Int] = [:]
        var cursor = directoryOffset
        let directoryEnd = directoryOffset + directorySize
        for number in 0..<entryCount {
            guard cursor + 46 <= directoryEnd, ZipArchive.read32(bytes, cursor) == ZipArchive.centralEntrySignature else {
                throw invalid("central directory entry \(number) is damaged")
            }
            let method = ZipArchive.read16(bytes, cursor + 10)
            var compressedSize = UInt64(ZipArchive.read32(bytes, cursor + 20))
            var uncompressedSize = UInt64(ZipArchive.read32(bytes, cursor + 24))
            let nameLength = Int(ZipArchive.read16(bytes, cursor + 28))
            let extraLength = Int(ZipArchive.read16(bytes, cursor + 30))
            let commentLength = Int(ZipArchive.read16(bytes, cursor + 32))
            var localOffset = UInt64(ZipArchive.read32(bytes, cursor + 42))
            let nameStart = cursor + 46
            let extraStart = nameStart + nameLength
            let next = extraStart + extraLength + commentLength
            guard next <= directoryEnd else { throw invalid("central directory entry \(number) runs past the directory") }
            let name = String(decoding: bytes[nameStart..<extraStart], as: UTF8.self)

            // Zip64 extended information: the 64-bit values of the fields set to 0xFFFFFFFF, in order.
            var extra = extraStart
            while extra + 4 <= extraStart + extraLength {
                let identifier = ZipArchive.read16(bytes, extra)
                let size = Int(ZipArchive.read16(bytes, extra + 2))
                guard extra + 4 + size <= extraStart + extraLength else { throw invalid("extra field of '\(name)' is damaged") }
                if identifier == 0x0001 {
                    var field = extra + 4
                    func take(_ value: inout UInt64) throws {
                        guard value == 0xFFFF_FFFF else { return }
                        guard field + 8 <= extra + 4 + size else { throw invalid("zip64 extra field of '\(name)' is too short") }
                        value = ZipArchive.read64(bytes, field)
                        field += 8
                    }
                    try take(&uncompressedSize)
                    try take(&compressedSize)
                    try take(&localOffset)
                }
                extra += 4 + size
            }
            guard compressedSize <= UInt64(bytes.count), uncompressedSize <= UInt64(Int.max / 2), localOffset <= UInt64(bytes.count) else {
                throw ModelIOError.truncated(path: path, reason: "zip entry '\(name)' lies outside the \(bytes.count)-byte file")
            }
            if positions[name] == nil { positions[name] = entries.count }
            entries.append(Entry(
                name: name, compressionMethod: method, compressedSize: Int(compressedSize),
                uncompressedSize: Int(uncompressedSize), localHeaderOffset: Int(localOffset)))
            cursor = next
        }
        self.entries = entries
        self.positions = positions
    }

    func entry(named name: String) -> Entry? {
        positions[name].map { entries[$0] }
    }

    /// The byte range of a stored entry's data inside the file.
    func dataRange(of entry: Entry) throws -> Range<Int> {
        let bytes = file.bytes
        guard entry.compressionMethod == 0 else {
            throw ModelIOError.unsupportedFormat(
                path: file.path,
                reason: "zip entry '\(entry.name)' is compressed (method \(entry.compressionMethod)); only stored entries are supported")
        }
        guard entry.compressedSize == entry.uncompressedSize else {
            throw ModelIOError.invalidHeader(path: file.path, reason: "zip: stored entry '\(entry.name)' has different compressed and uncompressed sizes")
        }
        let header = entry.localHeaderOffset
        guard header <= bytes.count - 30, ZipArchive.read32(bytes, header) == ZipArchive.localHeaderSignature else {
            throw ModelIOError.invalidHeader(path: file.path, reason: "zip: local header of '\(entry.name)' is missing")
        }
        let start = header + 30 + Int(ZipArchive.read16(bytes, header + 26)) + Int(ZipArchive.read16(bytes, header + 28))
        guard start <= bytes.count, entry.compressedSize <= bytes.count - start else {
            throw ModelIOError.truncated(path: file.path, reason: "zip entry '\(entry.name)' needs \(entry.compressedSize) bytes at byte \(start), the file has \(bytes.count)")
        }
        return start..<start + entry.compressedSize
    }

    static func read16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    static func read32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(read16(bytes, offset)) | UInt32(read16(bytes, offset + 2)) << 16
    }

    static func read64(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        UInt64(read32(bytes, offset)) | UInt64(read32(bytes, offset + 4)) << 32
    }
}
