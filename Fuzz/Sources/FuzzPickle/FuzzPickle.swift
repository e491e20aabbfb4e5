import AimetSwift

/// libFuzzer entry: any bytes as a pickle stream through the safe unpickler. Errors are
/// expected; a trap, leak or sanitizer report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPickle(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = UnsafeRawBufferPointer(start: data, count: size)
    _ = try? PyTorchCheckpointStore.parsePickle(buffer, path: "fuzz.pkl")
    return 0
}
