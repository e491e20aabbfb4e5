import CJPEG
import CPNG

/// Decodes PNG and JPEG files through the system's libpng and libjpeg.
///
/// The format is chosen from the file's first bytes, never from its name. Every failure is a
/// `ModelIOError` naming the file: `.notAnImage` (empty, or neither PNG nor JPEG),
/// `.truncated` (the data ends before the image does), `.corruptImage` (the library rejected
/// the data), `.unsupportedFormat` (CMYK JPEG, dimensions beyond 32768 pixels or 1 GiB).
/// libpng and libjpeg report errors by `longjmp` inside a small C shim, so a damaged file
/// never crashes or exits the process.
public enum ImageDecoder {
    /// The container formats the decoder reads.
    public enum Format: String, Sendable, Equatable {
        case png = "PNG"
        case jpeg = "JPEG"
    }

    /// The format of `bytes` judged from its signature, or nil.
    public static func format(of bytes: UnsafeRawBufferPointer) -> Format? {
        let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        if bytes.count >= 8, zip(bytes.prefix(8), pngSignature).allSatisfy({ $0 == $1 }) { return .png }
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        return nil
    }

    /// Decodes the PNG or JPEG file at `path` to 8-bit interleaved samples: grey, grey +
    /// alpha, RGB or RGBA as stored (palette PNGs become RGB or RGBA, 1/2/4-bit grey becomes
    /// 8-bit, 16-bit samples keep their high byte as Pillow does; JPEG gives grey or RGB).
    public static func decode(path: String) throws -> DecodedImage {
        let file = try MappedFile(path: path)
        return try decode(bytes: file.bytes, path: path)
    }

    /// Decodes an image held in memory; `path` only names it in errors.
    public static func decode(bytes: UnsafeRawBufferPointer, path: String) throws -> DecodedImage {
        guard !bytes.isEmpty else { throw ModelIOError.notAnImage(path: path, reason: "the file is empty") }
        switch format(of: bytes) {
        case .png?: return try decodePNG(bytes, path: path)
        case .jpeg?: return try decodeJPEG(bytes, path: path)
        case nil:
            throw ModelIOError.notAnImage(path: path, reason: "the first bytes are neither a PNG nor a JPEG signature")
        }
    }

    private static let messageCapacity = 512

    private static func decodePNG(_ bytes: UnsafeRawBufferPointer, path: String) throws -> DecodedImage {
        var image = aimet_png_image()
        var message = [CChar](repeating: 0, count: messageCapacity)
        let status = message.withUnsafeMutableBufferPointer { text in
            aimet_png_decode(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count, &image,
                             text.baseAddress, text.count)
        }
        let reason = text(message)
        switch Int(status) {
        case Int(AIMET_PNG_OK):
            defer { aimet_png_free(image.pixels) }
            return try makeImage(width: image.width, height: image.height, channels: image.channels,
                                 pixels: image.pixels, path: path)
        case Int(AIMET_PNG_NOT_PNG):
            throw ModelIOError.notAnImage(path: path, reason: "no PNG signature")
        case Int(AIMET_PNG_TRUNCATED):
            throw ModelIOError.truncated(path: path, reason: reason.isEmpty ? "PNG data ends early" : reason)
        case Int(AIMET_PNG_TOO_LARGE):
            throw ModelIOError.unsupportedFormat(path: path, reason: "PNG dimensions exceed the decoder's limits")
        case Int(AIMET_PNG_OUT_OF_MEMORY):
            throw ModelIOError.cannotOpen(path: path, reason: "out of memory while decoding the PNG")
        default:
            throw ModelIOError.corruptImage(path: path, format: Format.png.rawValue,
                                            reason: reason.isEmpty ? "libpng rejected the data" : reason)
        }
    }

    private static func decodeJPEG(_ bytes: UnsafeRawBufferPointer, path: String) throws -> DecodedImage {
        var image = aimet_jpeg_image()
        var message = [CChar](repeating: 0, count: messageCapacity)
        let status = message.withUnsafeMutableBufferPointer { text in
            aimet_jpeg_decode(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count, &image,
                              text.baseAddress, text.count)
        }
        let reason = text(message)
        switch Int(status) {
        case Int(AIMET_JPEG_OK):
            defer { aimet_jpeg_free(image.pixels) }
            return try makeImage(width: image.width, height: image.height, channels: image.channels,
                                 pixels: image.pixels, path: path)
        case Int(AIMET_JPEG_NOT_JPEG):
            throw ModelIOError.notAnImage(path: path, reason: "no JPEG start-of-image marker")
        case Int(AIMET_JPEG_TRUNCATED):
            throw ModelIOError.truncated(path: path, reason: reason.isEmpty ? "JPEG data ends early" : reason)
        case Int(AIMET_JPEG_TOO_LARGE):
            throw ModelIOError.unsupportedFormat(path: path, reason: "JPEG dimensions exceed the decoder's limits")
        case Int(AIMET_JPEG_UNSUPPORTED):
            throw ModelIOError.unsupportedFormat(path: path, reason: "JPEG colour space is not grey, YCbCr or RGB (CMYK?)")
        case Int(AIMET_JPEG_OUT_OF_MEMORY):
            throw ModelIOError.cannotOpen(path: path, reason: "out of memory while decoding the JPEG")
        default:
            throw ModelIOError.corruptImage(path: path, format: Format.jpeg.rawValue,
                                            reason: reason.isEmpty ? "libjpeg rejected the data" : reason)
        }
    }

    private static func text(_ message: [CChar]) -> String {
        let bytes = message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func makeImage(width: UInt32, height: UInt32, channels: UInt32,
                                  pixels: UnsafeMutablePointer<UInt8>?, path: String) throws -> DecodedImage {
        let count = Int(width) * Int(height) * Int(channels)
        guard let pixels,
              let image = DecodedImage(width: Int(width), height: Int(height), channels: Int(channels),
                                       samples: Array(UnsafeBufferPointer(start: pixels, count: count)))
        else {
            throw ModelIOError.corruptImage(path: path, format: "image", reason: "decoder returned no pixels")
        }
        return image
    }
}
