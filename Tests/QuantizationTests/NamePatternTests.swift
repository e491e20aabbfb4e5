import Quantization
import Testing

@Suite struct NamePatternTests {
    @Test(arguments: [
        ("encoder.layer.3.output.dense", "encoder.layer.*.output.dense", true),
        ("encoder.layer.3.attention.output.dense", "encoder.layer.*.output.dense", false),
        ("encoder.layer.3.attention.output.dense", "encoder.layer.**.output.dense", true),
        ("pooling", "pooling", true),
        ("pooling", "pool", false),
        ("encoder.layer.10.intermediate.activation", "*.layer.*.intermediate.*", true),
        ("a.b", "**", true),
        ("a.b", "*", false),
    ])
    func matching(name: String, pattern: String, expected: Bool) {
        #expect(NamePattern.matches(name, pattern) == expected)
    }
}
