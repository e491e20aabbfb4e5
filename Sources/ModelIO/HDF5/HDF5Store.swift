import CHDF5
import Foundation
import QuantCore

/// Tensors of an HDF5 file, in one of three layouts:
///
/// - **Keras 2 full model** (`.kerasModelHDF5`): a root attribute `model_config` (JSON) and
///   a group `model_weights` whose attribute `layer_names` lists the layers; each layer
///   group's attribute `weight_names` lists its datasets (e.g. `conv2d_1/kernel:0`).
///   Tensors are named by those weight names, in `layer_names` order, then `weight_names`
///   order. `metadata` holds `keras_version`, `backend`, `model_class`, `layers`
///   (`{"name", "class_name", "inbound"}` each) and `layer_count`; `modelConfig` holds the
///   whole parsed `model_config`.
/// - **Keras 3 `.weights.h5`** (`.kerasWeightsHDF5`): a root group `vars`, and every
///   dataset stored as `…/vars/<index>` (e.g. `layers/dense/vars/0`). Tensors are named by
///   their dataset paths without the leading slash, in natural order (`HDF5NaturalOrder`:
///   component by component, digit-only components first and by value, so `vars/10`
///   follows `vars/9`).
/// - **Plain HDF5** (`.plainHDF5`): every dataset anywhere in the file, named by its path
///   without the leading slash. The order is creation order when every group records it
///   (files from `HDF5Writer` do), natural order otherwise.
///
/// For the Keras 3 and plain layouts `metadata` holds the root's string attributes.
/// The file stays open for the store's life; tensor data is read on access. All calls
/// into libhdf5 share one process-wide lock, so a store can be used from many threads.
public final class HDF5Store: WeightStore {
    public let path: String
    public let format: WeightFormat
    public let tensors: [TensorInfo]
    public let metadata: JSONValue
    /// The parsed `model_config` of a Keras 2 full-model file; nil for other layouts.
    public let modelConfig: JSONValue?

    private let file: hid_t
    /// Tensor name → index in `tensors` and path of its dataset inside the file.
    private let locations: [String: (index: Int, dataset: String)]

    /// The HDF5 format signature, found at offset 0 or at 512, 1024, 2048, ... when the
    /// file starts with a user block.
    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Opens `path` and lists its tensors. Throws `notHDF5` for files without the HDF5
    /// signature, `truncated` when the file is shorter than its superblock says.
    public init(path: String) throws {
        try Self.checkSignature(path: path)
        let listing: Listing = try HDF5Library.withLock {
            let file = try Self.openFile(path: path)
            do {
                return try Self.list(file: file, path: path)
            } catch {
                H5Fclose(file)
                throw error
            }
        }
        self.path = path
        self.file = listing.file
        self.format = listing.format
        self.tensors = listing.tensors.map(\.info)
        self.metadata = .object(listing.metadata)
        self.modelConfig = listing.modelConfig
        var locations: [String: (index: Int, dataset: String)] = [:]
        for (index, entry) in listing.tensors.enumerated() {
            locations[entry.info.name] = (index, entry.dataset)
        }
        self.locations = locations
    }

    deinit {
        let file = self.file
        HDF5Library.withLock { _ = H5Fclose(file) }
    }

    public func withRawBytes<Result>(
        named name: String, _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> Result {
        guard let location = locations[name] else {
            throw ModelIOError.tensorNotFound(path: path, tensor: name)
        }
        let info = tensors[location.index]
        guard UInt64(info.byteCount) <= ProcessInfo.processInfo.physicalMemory else {
            throw ModelIOError.unsupportedFormat(
                path: path, reason: "dataset '\(location.dataset)' needs \(info.byteCount) bytes, more than this machine's memory")
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(info.byteCount, 1), alignment: 16)
        defer { buffer.deallocate() }
        let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<info.byteCount])
        try HDF5Library.withLock {
            try HDF5Dataset.read(file: file, location: location.dataset, info: info, into: bytes, path: path)
        }
        return try body(UnsafeRawBufferPointer(bytes))
    }

    // MARK: - Opening

    private static func checkSignature(path: String) throws {
        let mapped = try MappedFile(path: path)
        let bytes = mapped.bytes
        var offset = 0
        while offset + signature.count <= bytes.count {
            if bytes[offset..<(offset + signature.count)].elementsEqual(signature) { return }
            offset = offset == 0 ? 512 : offset * 2
        }
        throw ModelIOError.notHDF5(path: path)
    }

    /// Opens the file read-only (lock held). A file shorter than the end of allocation its
    /// superblock records is reported as `truncated`.
    private static func openFile(path: String) throws -> hid_t {
        let file = H5Fopen(path, aimet_H5F_ACC_RDONLY(), aimet_H5P_DEFAULT)
        guard file >= 0 else {
            let description = HDF5Library.errorDescription()
            if description.lowercased().contains("truncated") {
                throw ModelIOError.truncated(path: path, reason: description)
            }
            throw ModelIOError.hdf5Failure(path: path, object: "/", operation: "H5Fopen (\(description))")
        }
        var size: hsize_t = 0
        var end: UInt64 = 0
        if H5Fget_filesize(file, &size) >= 0, aimet_end_of_allocation(file, &end) >= 0, size < end {
            H5Fclose(file)
            throw ModelIOError.truncated(path: path, reason: "file has \(size) bytes, its superblock needs \(end)")
        }
        _ = HDF5Library.errorDescription()
        return file
    }

    private struct Listing {
        var file: hid_t
        var format: WeightFormat
        var tensors: [(info: TensorInfo, dataset: String)]
        var metadata: JSONObject
        var modelConfig: JSONValue?
    }

    /// Recognises the layout and lists the tensors (lock held).
    private static func list(file: hid_t, path: String) throws -> Listing {
        let root = try HDF5Library.check(H5Gopen2(file, "/", aimet_H5P_DEFAULT), path: path, object: "/", operation: "H5Gopen2")
        defer { H5Gclose(root) }
        if HDF5Library.hasAttribute(root, "model_config"), aimet_object_type(root, "model_weights") == Int32(AIMET_OBJECT_GROUP) {
            let keras = try HDF5KerasModel.read(file: file, root: root, path: path)
            return Listing(file: file, format: .kerasModelHDF5, tensors: keras.tensors,
                           metadata: keras.metadata, modelConfig: keras.modelConfig)
        }
        let visit = try datasetPaths(root: root, path: path)
        let metadata = try HDF5Library.stringAttributes(root, path: path, objectName: "/")
        let isKeras3 = !visit.paths.isEmpty
            && aimet_object_type(root, "vars") == Int32(AIMET_OBJECT_GROUP)
            && visit.paths.allSatisfy(isKeras3VariablePath)
        let ordered = isKeras3 || !visit.inCreationOrder ? HDF5NaturalOrder.sorted(visit.paths) : visit.paths
        let tensors = try ordered.map { dataset in
            (info: try HDF5Dataset.describe(file: file, location: dataset, name: dataset, path: path), dataset: dataset)
        }
        return Listing(file: file, format: isKeras3 ? .kerasWeightsHDF5 : .plainHDF5,
                       tensors: tensors, metadata: metadata, modelConfig: nil)
    }

    /// True for `vars/<digits>` or `…/vars/<digits>`.
    private static func isKeras3VariablePath(_ dataset: String) -> Bool {
        let components = dataset.split(separator: "/", omittingEmptySubsequences: false)
        guard components.count >= 2, components[components.count - 2] == "vars",
              let last = components.last, !last.isEmpty else { return false }
        return last.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// Collects object paths while HDF5 visits the file.
    private final class VisitCollector {
        var datasets: [String] = []
        var groups: [String] = []
    }

    /// Paths of every dataset reachable from the root (each object once): in creation
    /// order when every group tracks and indexes it, else in name order (lock held).
    private static func datasetPaths(root: hid_t, path: String) throws -> (paths: [String], inCreationOrder: Bool) {
        let callback: aimet_visit_callback = { name, objectType, context in
            guard let name, let context else { return -1 }
            let collector = Unmanaged<VisitCollector>.fromOpaque(context).takeUnretainedValue()
            if objectType == Int32(AIMET_OBJECT_DATASET) {
                collector.datasets.append(String(cString: name))
            } else if objectType == Int32(AIMET_OBJECT_GROUP) {
                collector.groups.append(String(cString: name))
            }
            return 0
        }
        func visit(byCreationOrder: Bool) throws -> VisitCollector {
            let collector = VisitCollector()
            let status = withExtendedLifetime(collector) {
                aimet_visit(root, byCreationOrder ? 1 : 0, callback, Unmanaged.passUnretained(collector).toOpaque())
            }
            guard status >= 0 else { throw HDF5Library.failure(path: path, object: "/", operation: "H5Ovisit") }
            return collector
        }
        let byName = try visit(byCreationOrder: false)
        guard try byName.groups.allSatisfy({ try indexesCreationOrder(root: root, group: $0, path: path) }) else {
            return (byName.datasets, false)
        }
        return (try visit(byCreationOrder: true).datasets, true)
    }

    /// True when `group` (relative to the root) tracks and indexes link creation order.
    private static func indexesCreationOrder(root: hid_t, group name: String, path: String) throws -> Bool {
        let group = try HDF5Library.check(H5Gopen2(root, name, aimet_H5P_DEFAULT), path: path, object: name, operation: "H5Gopen2")
        defer { H5Gclose(group) }
        let properties = try HDF5Library.check(H5Gget_create_plist(group), path: path, object: name, operation: "H5Gget_create_plist")
        defer { H5Pclose(properties) }
        var flags: UInt32 = 0
        try HDF5Library.check(H5Pget_link_creation_order(properties, &flags), path: path, object: name,
                              operation: "H5Pget_link_creation_order")
        return flags & aimet_H5P_CRT_ORDER_TRACKED_INDEXED == aimet_H5P_CRT_ORDER_TRACKED_INDEXED
    }
}
