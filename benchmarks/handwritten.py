"""The suite's column (c): each transform's optimization written by hand, without coder, in the
style of the IPEX and BigDL-Nano examples, timed exactly like benchmarks/scripts/*.py.

    python benchmarks/handwritten.py nano_jit_bf16_ipex resnet50 --batch-size 1
Prints `latency_ms=<median>` on its last line.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

import torch

CALIBRATION_BATCHES = 4  # what coder calibrates INT8 on by default (the first 4 calls)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("method")
    parser.add_argument("workload", choices=["resnet18", "resnet50", "mobilenet_v3_small", "bert_base"])
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20)
    return parser.parse_args()


class Logits(torch.nn.Module):
    """BERT as tensors in, logits out: what one hand-writes before tracing or exporting."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def workload(args) -> tuple[torch.nn.Module, list[torch.Tensor]]:
    """The same model and inputs as the script of the same name, same seed."""
    torch.manual_seed(0)
    if args.workload == "bert_base":
        from transformers import BertConfig, BertForSequenceClassification

        config = BertConfig(num_labels=2)
        model = Logits(BertForSequenceClassification(config)).eval()
        ids = torch.randint(0, config.vocab_size, (args.batch_size, args.seq_len))
        return model, [ids, torch.ones_like(ids)]
    import torchvision

    model = torchvision.models.get_model(args.workload, weights=None).eval()
    return model, [torch.rand(args.batch_size, 3, args.image_size, args.image_size)]


def flags(method: str) -> dict[str, bool]:
    parts = method.split("_")
    return {name: name in parts for name in ("jit", "ipex", "bf16", "channels", "onnxruntime", "openvino", "int8")}


def optimize(method: str, model, inputs: list[torch.Tensor]):
    """A function of the inputs running ``method``'s optimization, built by hand."""
    flag = flags(method)
    if flag["onnxruntime"]:
        return onnxruntime_session(model, inputs, int8=flag["int8"])
    if flag["openvino"]:
        return openvino_model(model, inputs, int8=flag["int8"])
    if flag["int8"]:
        return ipex_int8(model, inputs)
    return torch_model(model, inputs, flag)


def torch_model(model, inputs, flag):
    if flag["channels"]:
        model = model.to(memory_format=torch.channels_last)
        inputs = [channels_last(t) for t in inputs]
    if flag["ipex"]:
        import intel_extension_for_pytorch as ipex

        model = ipex.optimize(model, dtype=torch.bfloat16 if flag["bf16"] else torch.float32)
    autocast = (
        (lambda: torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False))
        if flag["bf16"]
        else contextlib.nullcontext
    )
    if flag["jit"]:
        with torch.no_grad(), autocast():
            model = torch.jit.freeze(torch.jit.trace(model, tuple(inputs), strict=False))

    def run(tensors):
        with autocast():
            return model(*[channels_last(t) if flag["channels"] else t for t in tensors])

    return run


def channels_last(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.contiguous(memory_format=torch.channels_last) if tensor.dim() == 4 else tensor


def ipex_int8(model, inputs):
    """IPEX static INT8, as in the IPEX examples: prepare, calibrate, convert, trace, freeze."""
    import intel_extension_for_pytorch as ipex
    from intel_extension_for_pytorch.quantization import convert, prepare

    prepared = prepare(model, ipex.quantization.default_static_qconfig_mapping, example_inputs=tuple(inputs))
    with torch.no_grad():
        for _ in range(CALIBRATION_BATCHES):
            prepared(*inputs)
        quantized = torch.jit.freeze(torch.jit.trace(convert(prepared), tuple(inputs)))
    return lambda tensors: quantized(*tensors)


def onnx_file(model, inputs, folder: str) -> str:
    path = str(Path(folder) / "model.onnx")
    names = [f"input_{i}" for i in range(len(inputs))]
    axes = {name: {0: "batch"} for name in names + ["output"]}
    torch.onnx.export(
        model,
        tuple(inputs),
        path,
        input_names=names,
        output_names=["output"],
        dynamic_axes=axes,
        opset_version=17,
        dynamo=False,
    )
    return path


def onnxruntime_session(model, inputs, int8: bool):
    import onnxruntime as ort
    from onnxruntime import quantization

    folder = tempfile.mkdtemp()
    path = onnx_file(model, inputs, folder)
    feed = {f"input_{i}": t.numpy() for i, t in enumerate(inputs)}
    if int8:
        # the ONNX Runtime examples' pre-processing (shape inference, graph optimization)
        quantization.quant_pre_process(path, path)

        class Reader(quantization.CalibrationDataReader):
            def __init__(self):
                self.feeds = iter([feed] * CALIBRATION_BATCHES)

            def get_next(self):
                return next(self.feeds, None)

        quantized = str(Path(folder) / "model.int8.onnx")
        quantization.quantize_static(
            path,
            quantized,
            Reader(),
            quant_format=quantization.QuantFormat.QOperator,
            activation_type=quantization.QuantType.QUInt8,
            weight_type=quantization.QuantType.QInt8,
        )
        path = quantized
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    return lambda tensors: session.run(
        None, {f"input_{i}": t.numpy() for i, t in enumerate(tensors) if f"input_{i}" in wanted}
    )


def openvino_model(model, inputs, int8: bool):
    import openvino as ov

    with torch.no_grad():
        converted = ov.convert_model(model, example_input=tuple(inputs))
    config = {"INFERENCE_NUM_THREADS": torch.get_num_threads()}
    if int8:
        import nncf

        sample = tuple(t.numpy() for t in inputs)
        converted = nncf.quantize(
            converted, nncf.Dataset([sample] * CALIBRATION_BATCHES), subset_size=CALIBRATION_BATCHES
        )
    else:
        config["INFERENCE_PRECISION_HINT"] = "f32"
    compiled = ov.Core().compile_model(converted, "CPU", config)
    request = compiled.create_infer_request()
    return lambda tensors: request.infer([t.numpy() for t in tensors])


def main():
    args = parse_args()
    model, inputs = workload(args)
    run = optimize(args.method, model, inputs)
    with torch.no_grad():
        for _ in range(args.warmup):
            run(inputs)
        times = []
        for _ in range(args.steps):
            start = time.perf_counter()
            run(inputs)
            times.append(time.perf_counter() - start)
    print(f"latency_ms={statistics.median(times) * 1000:.3f}")


if __name__ == "__main__":
    main()
