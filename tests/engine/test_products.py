"""What a script writes (exports, saves) is never removed, and is written from the model as built;
only a step whose result the script runs is an existing optimization. The shapes
with their goldens: fixtures/export_*, infer_then_save, jit_trace_saved*, ipex_jit_save_only,
torch_export_save, save_pretrained_after_check."""

import textwrap

from coder import engine

HEAD = (
    "import torch\nimport intel_extension_for_pytorch as ipex\nfrom torch import nn\n\n"
    "model = nn.Linear(4, 2).eval()\nx = torch.rand(1, 4)\n"
)


def patched(body: str, name: str = "nano_jit_fp32") -> engine.Outcome:
    return engine.patch(HEAD + textwrap.dedent(body), name)


def codes(outcome: engine.Outcome) -> list[str]:
    return [finding.code for finding in outcome.findings]


def test_an_optimization_whose_result_is_written_and_run_is_kept_with_the_model():
    outcome = patched("""\
        model = ipex.optimize(model)
        traced = torch.jit.trace(model, x)
        torch.jit.save(traced, "m.pt")
        model(x)
        """)
    assert isinstance(outcome, engine.Skipped) and codes(outcome) == ["C101", "C003"]


def test_a_model_traced_in_place_and_saved_is_left_as_it_is():
    outcome = patched("model = torch.jit.trace(model, x)\nmodel.save('m.pt')\nmodel(x)\n")
    assert outcome.source == HEAD + "model = torch.jit.trace(model, x)\nmodel.save('m.pt')\nmodel(x)\n"
    assert codes(outcome) == ["C101", "C003"]


def test_a_trace_saved_after_inference_traces_the_original():
    outcome = patched("model(x)\ntorch.jit.save(torch.jit.trace(model, x), 'm.pt')\n")
    assert "torch.jit.save(torch.jit.trace(InferenceOptimizer.original(model), x), 'm.pt')\n" in outcome.source
    assert "C203" not in codes(outcome)


def test_an_export_in_a_function_called_later_gets_the_original():
    outcome = patched("""\
        def export():
            torch.onnx.export(model, x, "m.onnx")

        with torch.no_grad():
            model(x)
        export()
        """)
    assert '    torch.onnx.export(InferenceOptimizer.original(model), x, "m.onnx")\n' in outcome.source
    assert 'model = InferenceOptimizer.trace(model, accelerator="jit")\n' in outcome.source


def test_a_trace_never_called_is_no_optimization_and_stays():
    outcome = patched("scripted = torch.jit.trace(model, x)\nmodel(x)\n")
    assert "scripted = torch.jit.trace(model, x)\n" in outcome.source and "C203" not in codes(outcome)
    assert outcome.source.index("torch.jit.trace(model, x)") < outcome.source.index("InferenceOptimizer.trace")


def test_an_optimization_run_and_not_written_is_still_replaced():
    outcome = patched("torch.onnx.export(model, x, 'm.onnx')\nmodel = torch.compile(model)\nmodel(x)\n")
    assert "torch.onnx.export(model, x, 'm.onnx')\n" in outcome.source
    assert "torch.compile" not in outcome.source and codes(outcome) == ["C203"]


def test_the_original_is_not_wrapped_twice():
    once = patched("model(x)\ntorch.save(model.state_dict(), 'w.pt')\nmodel.save_pretrained('out')\n").source
    assert "torch.save(InferenceOptimizer.original(model).state_dict(), 'w.pt')\n" in once
    assert "InferenceOptimizer.original(model).save_pretrained('out')\n" in once
    assert engine.patch(once, "nano_jit_fp32").source == once
