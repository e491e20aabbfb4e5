import AimetSwift
import ArgumentParser

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the compressed model of a calibration (quantized safetensors + encodings).",
        discussion: "The folder holds every non-weight file of the source model, model.safetensors in the aimet-swift.compressed format, and encodings.json in AIMET's format. Written atomically."
    )

    @Option(name: .long, help: "A folder written by `calibrate`.")
    var calibration: String

    @Option(name: .long, help: "The compressed model folder to write.")
    var output: String

    func run() throws {
        if let classifier = try ClassifierCalibration.read(fromFolder: calibration) {
            let summary = try ClassifierExport.export(classifier, to: output, extraFiles: try AimetEncodingsExport.files(for: classifier.result))
            print("wrote \(output): \(summary.quantizedTensors) quantized and \(summary.floatTensors) float tensors, model.safetensors \(InventoryText.byteSize(summary.weightBytes)), graph.json")
            return
        }
        let result = try CalibrationResult.read(fromFolder: calibration)
        let summary = try Exporter.export(result, to: output, extraFiles: try AimetEncodingsExport.files(for: result))
        print("wrote \(output): \(summary.quantizedTensors) quantized and \(summary.floatTensors) float tensors, model.safetensors \(InventoryText.byteSize(summary.weightBytes))")
    }
}
