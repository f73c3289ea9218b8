"""Rewriting rules of DESIGN section 2 on small scripts: each rule, and its no-op case."""

import textwrap

import pytest

from coder import engine

HEAD = "import torch\nimport torchvision.models as models\n"
IMPORT = "from coder.backend import InferenceOptimizer\n"


def patch(body: str, name: str = "nano_jit_fp32") -> engine.Patched:
    return engine.patch(HEAD + textwrap.dedent(body), name)


def body_of(result: engine.Patched) -> str:
    assert result.source.startswith(HEAD + IMPORT)
    return result.source[len(HEAD + IMPORT):]


def test_existing_with_gains_an_item():
    result = patch("m = models.resnet18()\nwith torch.no_grad():\n    m(1)\n")
    assert body_of(result) == ("m = models.resnet18()\nm = InferenceOptimizer.trace(m, accelerator=\"jit\")\n"
                               "with torch.no_grad(), InferenceOptimizer.get_context(m):\n    m(1)\n")


def test_statement_without_with_is_wrapped_with_its_comment_kept_above():
    result = patch("m = models.resnet18()\n# predict\ny = m(1)  # call\n")
    assert body_of(result).endswith("# predict\nwith InferenceOptimizer.get_context(m):\n    y = m(1)  # call\n")


def test_decorated_function_body_is_wrapped_after_its_docstring():
    result = patch('''\
        @torch.inference_mode()
        def run(net, x):
            """Doc."""
            return net(x)
        m = models.resnet18()
        run(m, 1)
        ''')
    assert '    """Doc."""\n    with InferenceOptimizer.get_context(net):\n        return net(x)\n' in result.source


def test_with_that_builds_the_model_is_not_given_the_item():
    result = patch("with torch.no_grad():\n    m = models.resnet18().eval()\n    y = m(1)\n")
    assert body_of(result) == ("with torch.no_grad():\n    m = models.resnet18().eval()\n"
                               "    m = InferenceOptimizer.trace(m, accelerator=\"jit\")\n"
                               "    with InferenceOptimizer.get_context(m):\n        y = m(1)\n")


def test_ready_after_a_conditional_checkpoint_load():
    result = patch("m = models.resnet18()\nif ckpt:\n    m.load_state_dict(torch.load(ckpt))\nm(1)\n")
    assert "    m.load_state_dict(torch.load(ckpt))\nm = InferenceOptimizer.trace(" in result.source


def test_int8_takes_the_loader_in_reach_and_moves_below_it():
    result = patch('''\
        m = models.resnet18().eval()
        loader = torch.utils.data.DataLoader(data)
        for x, _ in loader:
            m(x)
        ''', "nano_int8")
    assert ('loader = torch.utils.data.DataLoader(data)\n'
            'm = InferenceOptimizer.quantize(m, precision="int8", calib_data=loader)\n') in result.source


def test_int8_without_loader_calibrates_at_runtime():
    assert 'InferenceOptimizer.quantize(m, precision="int8")\n' in patch("m = models.resnet18()\nm(1)\n", "nano_int8").source


def test_already_optimized_model_is_skipped_with_its_line():
    source = HEAD + "m = models.resnet18()\nm = torch.jit.script(m)\nm(1)\n"
    result = engine.patch(source, "nano_jit_fp32")
    assert result.source == source
    assert result.warnings == ("3: 'm' is already optimized with torch.jit.script (line 4): not adding a second optimization",)


def test_no_model_leaves_the_bytes_alone():
    source = "import torch\r\nx = torch.ones(2)  \r\nprint(x)"
    result = engine.patch(source, "nano_bf16")
    assert result.source == source
    assert result.warnings == (engine.NO_MODEL,)


def test_crlf_and_missing_final_newline_are_kept():
    source = "import torchvision\r\nm = torchvision.models.resnet18()\r\nm(1)"
    patched = engine.patch(source, "nano_bf16").source
    assert patched == ("import torchvision\r\nfrom coder.backend import InferenceOptimizer\r\n"
                       "m = torchvision.models.resnet18()\r\n"
                       "m = InferenceOptimizer.quantize(m, precision=\"bf16\")\r\n"
                       "with InferenceOptimizer.get_context(m):\r\n    m(1)")


def test_import_goes_after_docstring_and_future_imports_when_no_other_import():
    source = '#!/usr/bin/env python\n"""Doc."""\nfrom __future__ import annotations\nm = __import__("torchvision").models.resnet18()\n'
    assert engine.patch(source, "nano_bf16").source == source  # not resolvable: no model
    source = '"""Doc."""\nfrom __future__ import annotations\nfrom torchvision.models import resnet18\nm = resnet18()\nm(1)\n'
    lines = engine.patch(source, "nano_bf16").source.splitlines()
    assert lines[:4] == ['"""Doc."""', "from __future__ import annotations", "from torchvision.models import resnet18",
                         "from coder.backend import InferenceOptimizer"]


def test_generate_model_gets_only_the_context_for_graph_transforms():
    source = "from transformers import AutoModelForCausalLM\nm = AutoModelForCausalLM.from_pretrained('x')\nm.generate(ids)\n"
    traced = engine.patch(source, "nano_jit_fp32")
    assert "InferenceOptimizer.trace" not in traced.source and "get_context(m)" in traced.source
    assert "generate()" in traced.warnings[0]
    assert "InferenceOptimizer.quantize(m, precision=\"bf16\")" in engine.patch(source, "nano_bf16").source


def test_baseline_and_custom_calls():
    source = HEAD + "m = models.resnet18()\nm(1)\n"
    assert "m = InferenceOptimizer.trace(m)\n" in engine.patch(source, "original").source
    custom = engine.patch_with_call(source, lambda model, loader: f"InferenceOptimizer.trace({model}, thread_num=1)")
    assert "m = InferenceOptimizer.trace(m, thread_num=1)\n" in custom.source


def test_second_model_in_an_existing_context_extends_it():
    source = HEAD + ("a = models.resnet18()\nwith torch.no_grad(), InferenceOptimizer.get_context(a):\n"
                     "    a(1)\n    b = models.resnet34()\n    b(2)\n")
    patched = engine.patch(source, "nano_bf16").source
    assert "get_context(a, b)" not in patched  # b is built inside that with: it gets its own context
    assert "    with InferenceOptimizer.get_context(b):\n        b(2)\n" in patched


def test_unknown_transform_names_close_matches():
    import transforms

    with pytest.raises(transforms.UnknownTransform, match="nano_jit_bf16"):
        engine.patch("x = 1\n", "nano_jit_bf61")


def test_syntax_error_is_a_script_error_with_position():
    with pytest.raises(engine.ScriptError) as error:
        engine.patch("x = 1\ny = (\n", "nano_bf16")
    assert error.value.located("s.py") == "s.py:2:5: '(' was never closed"


def test_coder_patch_returns_text_and_warns():
    import coder

    with pytest.warns(engine.CoderWarning, match="no model found"):
        assert coder.patch("x = 1\n", "nano_bf16") == "x = 1\n"


def test_lambda_site_is_left_with_a_warning():
    result = patch("m = models.resnet18()\npredict = lambda x: m(x)\nm(1)\n")
    assert "predict = lambda x: m(x)\nwith InferenceOptimizer.get_context(m):\n    m(1)\n" in result.source
    assert result.warnings[0].startswith("4: no safe place for InferenceOptimizer.get_context")


def test_alternatives_in_try_except_get_one_call_after_the_weights_load():
    result = patch('''\
        try:
            m = torch.load("m.pt")
        except OSError:
            m = models.resnet18()
        m.load_state_dict(state)
        m(1)
        ''')
    assert body_of(result).count("InferenceOptimizer.trace") == 1
    assert "m.load_state_dict(state)\nm = InferenceOptimizer.trace(" in result.source


def test_pipeline_passed_to_a_function_gets_the_context_of_its_model():
    source = ("from transformers import pipeline\ndef run(clf, texts):\n    return [clf(t) for t in texts]\n"
              "p = pipeline('text-classification')\nrun(p, ['a'])\n")
    patched = engine.patch(source, "nano_bf16").source
    assert "p.model = InferenceOptimizer.quantize(p.model, precision=\"bf16\")\n" in patched
    assert "    with InferenceOptimizer.get_context(clf.model):\n        return [clf(t) for t in texts]\n" in patched


def test_ready_after_weight_init_and_config_changes():
    result = patch("m = models.resnet18()\nm.apply(init)\nm.config.use_cache = False\nx = 1\nm(x)\n")
    assert "m.config.use_cache = False\nm = InferenceOptimizer.trace(" in result.source


def test_model_never_called_is_named_and_state_dicts_are_not():
    source = HEAD + "state = torch.load('w.pt')\nm = models.resnet18()\nm.load_state_dict(state)\ntorch.save(m, 'm.pt')\n"
    result = engine.patch(source, "nano_bf16")
    assert result.source == source
    assert result.warnings == ("4: 'm' is built but coder sees no inference call on it", engine.NO_INFERENCE)
