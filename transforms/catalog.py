"""The 20 named transforms, then those beyond them, one declarative entry each (DESIGN.md section 4).

Adding a transform is one entry here plus its golden files under fixtures/.
"""

from .spec import Transform

CATALOG: tuple[Transform, ...] = (
    Transform("nano_fp32_channels_last", "fp32, channels-last memory format", "trace", (("channels_last", True),)),
    Transform("nano_fp32_ipex", "fp32, ipex.optimize", "trace", (("use_ipex", True),)),
    Transform(
        "nano_fp32_ipex_channels_last",
        "fp32, ipex.optimize + channels-last",
        "trace",
        (("use_ipex", True), ("channels_last", True)),
    ),
    Transform("nano_bf16", "BF16 autocast, float32 outputs", "quantize", (("precision", "bf16"),)),
    Transform(
        "nano_bf16_channels_last",
        "BF16 autocast + channels-last",
        "quantize",
        (("precision", "bf16"), ("channels_last", True)),
    ),
    Transform("nano_bf16_ipex", "BF16 with ipex.optimize", "quantize", (("precision", "bf16"), ("use_ipex", True))),
    Transform(
        "nano_bf16_ipex_channels_last",
        "BF16 with ipex.optimize + channels-last",
        "quantize",
        (("precision", "bf16"), ("use_ipex", True), ("channels_last", True)),
    ),
    Transform(
        "nano_int8",
        "INT8 static post-training quantization (PyTorch PT2E / Neural Compressor)",
        "quantize",
        (("precision", "int8"),),
    ),
    Transform("nano_jit_fp32", "fp32 TorchScript trace + freeze", "trace", (("accelerator", "jit"),)),
    Transform(
        "nano_jit_fp32_channels_last",
        "fp32 TorchScript + channels-last",
        "trace",
        (("accelerator", "jit"), ("channels_last", True)),
    ),
    Transform(
        "nano_jit_fp32_ipex", "fp32 TorchScript + ipex.optimize", "trace", (("accelerator", "jit"), ("use_ipex", True))
    ),
    Transform(
        "nano_jit_fp32_ipex_channels_last",
        "fp32 TorchScript + ipex.optimize + channels-last",
        "trace",
        (("accelerator", "jit"), ("use_ipex", True), ("channels_last", True)),
    ),
    Transform(
        "nano_jit_bf16", "BF16 TorchScript trace + freeze", "quantize", (("precision", "bf16"), ("accelerator", "jit"))
    ),
    Transform(
        "nano_jit_bf16_channels_last",
        "BF16 TorchScript + channels-last",
        "quantize",
        (("precision", "bf16"), ("accelerator", "jit"), ("channels_last", True)),
    ),
    Transform(
        "nano_jit_bf16_ipex",
        "BF16 TorchScript + ipex.optimize",
        "quantize",
        (("precision", "bf16"), ("accelerator", "jit"), ("use_ipex", True)),
    ),
    Transform(
        "nano_jit_bf16_ipex_channels_last",
        "BF16 TorchScript + ipex.optimize + channels-last",
        "quantize",
        (("precision", "bf16"), ("accelerator", "jit"), ("use_ipex", True), ("channels_last", True)),
    ),
    Transform("nano_onnxruntime_fp32", "ONNX export, ONNX Runtime fp32", "trace", (("accelerator", "onnxruntime"),)),
    Transform(
        "nano_onnxruntime_int8_qlinear",
        "ONNX Runtime INT8 static quantization (QOperator)",
        "quantize",
        (("precision", "int8"), ("accelerator", "onnxruntime")),
    ),
    Transform("nano_openvino_fp32", "OpenVINO fp32 (f32 inference precision)", "trace", (("accelerator", "openvino"),)),
    Transform(
        "nano_openvino_int8",
        "OpenVINO INT8 via NNCF post-training quantization",
        "quantize",
        (("precision", "int8"), ("accelerator", "openvino")),
    ),
    # beyond the 20: PyTorch's own compiler and quantizer (TorchDynamo/Inductor, PT2E) and dynamic INT8
    Transform("nano_compile_fp32", "fp32 torch.compile (Inductor, freezing)", "trace", (("accelerator", "compile"),)),
    Transform(
        "nano_compile_bf16",
        "BF16 autocast + torch.compile (Inductor, freezing)",
        "quantize",
        (("precision", "bf16"), ("accelerator", "compile")),
    ),
    Transform(
        "nano_compile_int8",
        "INT8 PT2E (X86InductorQuantizer) + torch.compile (Inductor, freezing)",
        "quantize",
        (("precision", "int8"), ("accelerator", "compile")),
    ),
    Transform(
        "nano_int8_dynamic",
        "dynamic INT8 of Linear/LSTM layers (no calibration; torch quantize_dynamic)",
        "quantize",
        (("precision", "int8"), ("approach", "dynamic")),
    ),
)
