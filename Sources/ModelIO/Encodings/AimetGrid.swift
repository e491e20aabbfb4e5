/// The one place where this project's grid meets AIMET's.
///
/// Ours:  x̂ = (q − zeroPoint) · scale; symmetric q ∈ [−(2^(b−1) − 1), 2^(b−1) − 1] with
///        zeroPoint 0, asymmetric q ∈ [0, 2^b − 1].
/// AIMET: x̂ = (q + offset) · scale with q on the UNSIGNED range [0, 2^b − 1] in both encodings
///        file versions (0.6.1 and 1.0.0), so
///        min = offset · scale and max = (offset + 2^b − 1) · scale.
///
/// Sources (github.com/quic/aimet, commit c51b284b):
/// - `TrainingExtensions/common/src/python/aimet_common/quantsim.py`: `calculate_delta_offset`
///   and `recompute_grid_params` give symmetric offset −(2^(b−1) − 1) − 1 = −2^(b−1) by default
///   (`use_strict_symmetric` False) and −(2^(b−1) − 1) when strict; asymmetric
///   offset = round(min / scale); `compute_min_max_given_delta_offset` gives min = scale · offset,
///   max = (2^b − 1 + offset) · scale (2^b − 2 steps when strict symmetric).
/// - `TrainingExtensions/onnx/src/python/aimet_onnx/qc_quantize_op.py`: 0.6.1 and 1.0.0
///   exports write the same `offset`; its tests (`test_qc_quantize_op.py`,
///   `test_export_per_tensor_int_encodings`) expect symmetric int8 scale 0.1 → offset −128 and
///   asymmetric int16 → offset −1000 with min = scale · offset, max = scale · (offset + 2^b − 1).
/// - `TrainingExtensions/torch/src/python/aimet_torch/v2/quantization/affine/encoding.py`:
///   `_to_legacy_format` shifts aimet-torch's internal signed offset by qmin (−2^(b−1)), so
///   files carry the unsigned view there too.
/// - LPBQ (`GroupedBlockQuantizeDequantize._export_1_0_0_encodings` and
///   `aimet_torch/experimental/v2/quantsim/export_utils.py`): `bw` is the decompressed
///   bitwidth, `compressed_bw` the stored one, `offset` = −2^(bw − 1) per channel.
enum AimetGrid {
    /// The AIMET `offset` for one of our zero points.
    ///
    /// Symmetric: −2^(b−1) (AIMET's default, non-strict symmetric). Our values q + 2^(b−1)
    /// land in [1, 2^b − 1] ⊂ [0, 2^b − 1]: every value of our grid is on AIMET's, and AIMET's
    /// extra level −2^(b−1) · scale is simply never produced. Asymmetric: −zeroPoint.
    static func offset(zeroPoint: Int32, bitwidth: Int, isSymmetric: Bool) -> Int64 {
        isSymmetric ? -(Int64(1) << Int64(bitwidth - 1)) : -Int64(zeroPoint)
    }

    /// Our zero point for an AIMET `offset`; `nil` when the offset has no place on our grid.
    ///
    /// Symmetric accepts AIMET's non-strict offset −2^(b−1) and its strict one −(2^(b−1) − 1);
    /// both mean zero point 0. Asymmetric: zeroPoint = −offset, which must lie in [0, 2^b − 1]
    /// (AIMET gates min ≤ 0 ≤ max, so exact zero is always on its grid).
    static func zeroPoint(offset: Int64, bitwidth: Int, isSymmetric: Bool) -> Int32? {
        let half = Int64(1) << Int64(bitwidth - 1)
        if isSymmetric { return offset == -half || offset == -(half - 1) ? 0 : nil }
        let zeroPoint = -offset
        guard zeroPoint >= 0, zeroPoint <= (Int64(1) << Int64(bitwidth)) - 1, zeroPoint <= Int64(Int32.max) else { return nil }
        return Int32(zeroPoint)
    }

    /// AIMET's `min` / `max` for a scale and offset: offset · scale and (offset + 2^b − 1) · scale,
    /// computed in double precision from the float32 scale as AIMET does with its double
    /// `TfEncoding` fields.
    static func range(scale: Float, offset: Int64, bitwidth: Int) -> (min: Double, max: Double) {
        let steps = (Int64(1) << Int64(bitwidth)) - 1
        return (Double(scale) * Double(offset), Double(scale) * Double(offset + steps))
    }

    /// The offset LPBQ entries carry: −2^(bw − 1) of the decompressed bitwidth.
    static func lowPowerBlockOffset(decompressedBitwidth: Int) -> Int64 {
        -(Int64(1) << Int64(decompressedBitwidth - 1))
    }
}
