"""coder.backend vs eager vs the same library calls written by hand, per transform.

    python benchmarks/bench_backend.py [--models resnet18,mobilenet_v3_small] [--batch 1,8]
        [--threads 1,2] [--paths nano_jit_fp32,...] [--rounds 20] [--size 224] [--out FILE.md]

For each model, batch size and thread count, every runnable transform is built twice from a
fresh copy of the model, once through ``InferenceOptimizer`` and once by hand (the library
calls only, no coder), then eager, coder and hand-written calls are timed interleaved, one
call each per round; the table shows medians. Random weights (nothing is downloaded);
mobilenet_v3_small gets BatchNorm statistics from a few training-mode passes so INT8 paths
are not rejected by the parity check.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from coder import transforms
from coder.backend import InferenceOptimizer

CL = torch.channels_last


# ---- hand-written paths: the library calls a user would write without coder ----


def hand_torch(model, x, *, jit, bf16, ipex, channels_last):
    if channels_last:
        model = model.to(memory_format=CL)
    if ipex:
        import intel_extension_for_pytorch as ipex_lib

        model = ipex_lib.optimize(model, dtype=torch.bfloat16 if bf16 else torch.float32)
    autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16, cache_enabled=False)  # noqa: E731
    prep = (lambda t: t.contiguous(memory_format=CL)) if channels_last else (lambda t: t)
    if jit:
        with torch.no_grad(), autocast():
            model = torch.jit.freeze(torch.jit.trace(model, prep(x)))
    return lambda t: _as_float(_in_autocast(model, prep(t), autocast))


def _in_autocast(model, t, autocast):
    with autocast():
        return model(t)


def _as_float(out):
    return out.float()


def hand_ort(model, x, calib, threads, int8):
    import onnxruntime as ort

    folder = Path(tempfile.mkdtemp())
    path = folder / "m.onnx"
    torch.onnx.export(model, (x,), str(path), input_names=["x"], dynamic_axes={"x": {0: "b"}}, dynamo=False)
    if int8:
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process

        quant_pre_process(str(path), str(folder / "p.onnx"), skip_symbolic_shape=True)

        class Reader(CalibrationDataReader):
            def __init__(self):
                self.it = iter([{"x": c.numpy()} for c in calib])

            def get_next(self):
                return next(self.it, None)

        quantize_static(
            str(folder / "p.onnx"),
            str(folder / "q.onnx"),
            Reader(),
            quant_format=QuantFormat.QOperator,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv", "MatMul", "Gemm"],
        )
        path = folder / "q.onnx"
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda t: torch.from_numpy(session.run(None, {"x": t.numpy()})[0])


def hand_ov(model, x, calib, threads, int8):
    import openvino as ov

    ov_model = ov.convert_model(model, example_input=x)
    config = {"INFERENCE_NUM_THREADS": threads}
    if int8:
        import nncf

        ov_model = nncf.quantize(ov_model, nncf.Dataset([c.numpy() for c in calib]), subset_size=len(calib))
    else:
        config["INFERENCE_PRECISION_HINT"] = "f32"
    compiled = ov.Core().compile_model(ov_model, "CPU", config)
    request = compiled.create_infer_request()
    return lambda t: torch.from_numpy(request.infer([t.numpy()])[compiled.outputs[0]].copy())


def hand_inc(model, x, calib):
    import importlib.util

    from neural_compressor.torch.quantization import StaticQuantConfig, convert, prepare

    if importlib.util.find_spec("intel_extension_for_pytorch"):
        import intel_extension_for_pytorch  # noqa: F401  (INC picks its IPEX backend once imported)

        prepared = prepare(model, StaticQuantConfig(), example_inputs=(x,))
    else:
        from neural_compressor.torch.export import export

        prepared = prepare(export(model, example_inputs=(x,)), StaticQuantConfig())
    for c in calib:
        prepared(c)
    quantized = convert(prepared)
    if importlib.util.find_spec("intel_extension_for_pytorch"):
        return quantized
    import torch._inductor.config as inductor_config

    inductor_config.freezing = True
    return torch.compile(quantized)


def hand_build(entry, model, x, calib, threads):
    kw = entry.kwargs
    accelerator, precision = kw.get("accelerator"), kw.get("precision", "fp32")
    if accelerator == "onnxruntime":
        return hand_ort(model, x, calib, threads, precision == "int8")
    if accelerator == "openvino":
        return hand_ov(model, x, calib, threads, precision == "int8")
    if precision == "int8":
        return hand_inc(model, x, calib)
    return hand_torch(
        model,
        x,
        jit=accelerator == "jit",
        bf16=precision == "bf16",
        ipex=kw.get("use_ipex", False),
        channels_last=kw.get("channels_last", False),
    )


# ---- coder, models, timing ----


def coder_build(entry, model, calib, threads):
    extra = {"calib_data": calib} if entry.is_int8 else {}
    # never_slower=False: this table is the side-by-side timing, so the runtime must not decide
    return getattr(InferenceOptimizer, entry.method)(
        model, **entry.kwargs, thread_num=threads, never_slower=False, **extra
    )


def make_model(name: str, size: int):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None)
    if name.startswith("mobilenet"):
        model.train()
        with torch.no_grad():
            for _ in range(3):
                model(torch.rand(8, 3, size, size))
    return model.eval()


def time_interleaved(calls: dict, x, rounds: int) -> dict:
    times = {name: [] for name in calls}
    with torch.no_grad():
        for fn in calls.values():
            for _ in range(3):
                fn(x)
        for _ in range(rounds):
            for name, fn in calls.items():
                start = time.perf_counter()
                fn(x)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def bench_one(entry, model, x, calib, threads, rounds) -> dict:
    with torch.no_grad():
        coder_model = coder_build(entry, copy.deepcopy(model), calib, threads)
        for _ in range(4):  # build, verification calls
            coder_model(x)
        hand = hand_build(entry, copy.deepcopy(model), x, calib, threads)
    status = getattr(coder_model, "fallback_reason", None) or "ok"
    ms = time_interleaved({"eager": model, "coder": coder_model, "hand": hand}, x, rounds)
    return {**ms, "status": status}


def row(model_name, batch, threads, entry_name, r) -> str:
    speedup = r["eager"] / r["coder"]
    overhead = (r["coder"] / r["hand"] - 1) * 100
    status = "ok" if r["status"] == "ok" else f"fallback: {r['status'][:60]}"
    return (
        f"| {model_name} | {batch} | {threads} | {entry_name} | {r['eager']:.2f} | {r['coder']:.2f} | "
        f"{r['hand']:.2f} | {speedup:.2f}x | {overhead:+.1f}% | {status} |"
    )


HEADER = (
    "| model | batch | threads | path | eager ms | coder ms | hand ms | speedup | coder vs hand | status |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet18,mobilenet_v3_small")
    parser.add_argument("--batch", default="1,8")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--paths", default=",".join(transforms.names()))
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    entries = [transforms.get(n) for n in args.paths.split(",") if not transforms.get(n).missing()]
    lines = [HEADER]
    print(HEADER, flush=True)
    for model_name in args.models.split(","):
        model = make_model(model_name, args.size)
        for batch in map(int, args.batch.split(",")):
            x = torch.rand(batch, 3, args.size, args.size)
            calib = [torch.rand(batch, 3, args.size, args.size) for _ in range(4)]
            for threads in map(int, args.threads.split(",")):
                torch.set_num_threads(threads)
                for entry in entries:
                    try:
                        line = row(
                            model_name,
                            batch,
                            threads,
                            entry.name,
                            bench_one(entry, model, x, calib, threads, args.rounds),
                        )
                    except Exception as error:  # a broken hand-written path must not stop the table
                        failure = f"{type(error).__name__}: {str(error)[:80]}"
                        line = f"| {model_name} | {batch} | {threads} | {entry.name} | error: {failure} |"
                    lines.append(line)
                    print(line, flush=True)
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
