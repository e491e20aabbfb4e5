#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory mapping of a whole file. Pages are read by the kernel on first
/// touch, so opening a large checkpoint costs almost nothing.
public final class MappedFile: @unchecked Sendable {
    /// The mapped file's path.
    public let path: String
    /// Size of the file in bytes.
    public let size: Int
    private let base: UnsafeRawPointer?

    /// Maps `path` read-only.
    public init(path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            let code = errno
            if code == ENOENT { throw ModelIOError.fileNotFound(path: path) }
            throw ModelIOError.cannotOpen(path: path, reason: String(cString: strerror(code)))
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw ModelIOError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw ModelIOError.cannotOpen(path: path, reason: "not a regular file")
        }
        self.path = path
        self.size = Int(status.st_size)
        if size == 0 {
            base = nil
            return
        }
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw ModelIOError.cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// The whole file as a buffer, valid while `self` lives.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: size)
    }

    /// Bytes `range` of the file. The caller has checked that the range lies inside the file.
    public func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        precondition(range.lowerBound >= 0 && range.upperBound <= size, "slice outside mapping")
        return UnsafeRawBufferPointer(rebasing: bytes[range])
    }
}
