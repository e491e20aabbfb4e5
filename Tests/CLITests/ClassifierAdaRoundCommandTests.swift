import AimetTestSupport
import Foundation
import ModelIO
import Testing

/// `calibrate --images … --techniques bn-fold,adaround` on the Keras fer model: AdaRound runs
/// on its convolutions and dense layers, the adjusted weights are stored beside the
/// calibration, and the calibration exports.
@Suite struct ClassifierAdaRoundCommandTests {
    @Test func classifierCalibratesWithAdaRoundFromTheCommandLine() throws {
        let images = try ClassifierCommandTests.imageFolder(role: "calibration")
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cli-classifier-adaround-\(UUID().uuidString)")
        defer { for folder in [images, work] { try? FileManager.default.removeItem(at: folder) } }
        let calibration = work.appendingPathComponent("cal").path, model = work.appendingPathComponent("fer-adaround").path
        let calibrate = try CommandRunner.run(["calibrate", "--model", ClassifierCommandTests.ferPath, "--images", images.path,
                                               "--views", "1", "--activations", "float", "--techniques", "bn-fold,seq-mse,adaround",
                                               "--adaround-iterations", "3", "--output", calibration])
        #expect(calibrate.status == 0, "\(calibrate.standardError)")
        let progress = calibrate.standardError.split(separator: "\n").filter { $0.hasPrefix("adaround ") }
        #expect(progress.count >= 2, "\(calibrate.standardError)")
        #expect(progress.last.map { $0.contains("rows") } == true, "\(calibrate.standardError)")
        let adjusted = calibration + "/adjusted-weights.safetensors"
        #expect(FileManager.default.fileExists(atPath: adjusted))
        let calibrationJSON = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: calibration + "/calibration.json"))),
                                                   path: calibration)
        #expect("\(calibrationJSON)".contains("rows_per_sample"), "the layer reports name the row sampling")
        #expect("\(calibrationJSON)".contains("seq_mse_layers"), "sequential MSE's layer reports are kept")
        let export = try CommandRunner.run(["export", "--calibration", calibration, "--output", model])
        #expect(export.status == 0, "\(export.standardError)")
    }
}
