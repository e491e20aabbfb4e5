import AimetSwift

/// libFuzzer entry: any bytes as a whole safetensors file. Errors are expected; a trap,
/// leak or sanitizer report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensorsHeader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = UnsafeRawBufferPointer(start: data, count: size)
    if let tensors = try? SafetensorsStore.validate(fileBytes: buffer, path: "fuzz.safetensors") {
        // Every accepted tensor must lie inside the input.
        let total = tensors.reduce(0) { $0 + $1.byteCount }
        precondition(total <= size, "accepted tensors claim more bytes than the file has")
    }
    return 0
}
