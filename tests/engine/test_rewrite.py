"""Rewriting rules of DESIGN section 2 on small scripts, CodemodTest style: each rule, and its no-op case."""

import pytest

from coder import engine
from tests.engine.codemod import assert_codemod


def test_existing_with_gains_an_item():
    assert_codemod(
        """\
        import torch
        import torchvision.models as models

        m = models.resnet18()
        with torch.no_grad():
            m(1)
        """,
        """\
        import torch
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        m = models.resnet18()
        m = InferenceOptimizer.trace(m, accelerator="jit")
        with torch.no_grad(), InferenceOptimizer.get_context(m):
            m(1)
        """,
    )


def test_statement_without_with_is_wrapped_with_its_comment_kept_above():
    assert_codemod(
        """\
        import torchvision.models as models

        m = models.resnet18()
        # predict
        y = m(1)  # call
        """,
        """\
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        m = models.resnet18()
        m = InferenceOptimizer.trace(m, accelerator="jit")
        # predict
        with InferenceOptimizer.get_context(m):
            y = m(1)  # call
        """,
    )


def test_decorated_function_body_is_wrapped_after_its_docstring():
    assert_codemod(
        '''\
        import torch
        import torchvision.models as models

        @torch.inference_mode()
        def run(net, x):
            """Doc."""
            # the call
            return net(x)
        m = models.resnet18()
        run(m, 1)
        ''',
        '''\
        import torch
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        @torch.inference_mode()
        def run(net, x):
            """Doc."""
            # the call
            with InferenceOptimizer.get_context(net):
                return net(x)
        m = models.resnet18()
        m = InferenceOptimizer.trace(m, accelerator="jit")
        run(m, 1)
        ''',
    )


def test_decorated_one_line_function_is_left_with_a_warning():
    assert_codemod(
        """\
        import torch
        import torchvision.models as models

        @torch.no_grad()
        def run(net, x): return net(x)
        m = models.resnet18()
        run(m, 1)
        """,
        """\
        import torch
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        @torch.no_grad()
        def run(net, x): return net(x)
        m = models.resnet18()
        m = InferenceOptimizer.trace(m, accelerator="jit")
        run(m, 1)
        """,
        expected_warnings=(
            "5:25: C202 no safe place for InferenceOptimizer.get_context around this call "
            "(a lambda, an await in the statement, or the statement that builds the model): "
            "it runs without it",
        ),
    )


def test_with_that_builds_the_model_is_not_given_the_item():
    assert_codemod(
        """\
        import torch
        import torchvision.models as models

        with torch.no_grad():
            m = models.resnet18().eval()
            y = m(1)
        """,
        """\
        import torch
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        with torch.no_grad():
            m = models.resnet18().eval()
            m = InferenceOptimizer.trace(m, accelerator="jit")
            with InferenceOptimizer.get_context(m):
                y = m(1)
        """,
    )


def test_ready_after_a_conditional_checkpoint_load():
    assert_codemod(
        """\
        import torch
        import torchvision.models as models

        m = models.resnet18()
        if ckpt:
            m.load_state_dict(torch.load(ckpt))
        m(1)
        """,
        """\
        import torch
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        m = models.resnet18()
        if ckpt:
            m.load_state_dict(torch.load(ckpt))
        m = InferenceOptimizer.trace(m, accelerator="jit")
        with InferenceOptimizer.get_context(m):
            m(1)
        """,
    )


def test_int8_takes_the_loader_in_reach_and_moves_below_it():
    assert_codemod(
        """\
        import torch
        import torchvision.models as models

        m = models.resnet18().eval()
        loader = torch.utils.data.DataLoader(data)
        for x, _ in loader:
            m(x)
        """,
        """\
        import torch
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        m = models.resnet18().eval()
        loader = torch.utils.data.DataLoader(data)
        m = InferenceOptimizer.quantize(m, precision="int8", calib_data=loader)
        with InferenceOptimizer.get_context(m):
            for x, _ in loader:
                m(x)
        """,
        transform="nano_int8",
    )


def test_int8_without_loader_calibrates_at_runtime():
    assert_codemod(
        """\
        import torchvision.models as models

        m = models.resnet18()
        m(1)
        """,
        """\
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        m = models.resnet18()
        m = InferenceOptimizer.quantize(m, precision="int8")
        with InferenceOptimizer.get_context(m):
            m(1)
        """,
        transform="nano_int8",
    )


def test_an_existing_optimization_is_replaced_and_said_so():
    assert_codemod(
        """\
        import torch
        import torchvision.models as models

        m = models.resnet18()
        m = torch.jit.script(m)
        m(1)
        """,
        """\
        import torch
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        m = models.resnet18()
        m = InferenceOptimizer.trace(m, accelerator="jit")
        with InferenceOptimizer.get_context(m):
            m(1)
        """,
        expected_warnings=(
            "4:1: C203 'm' is already optimized with torch.jit.script (line 5): nano_jit_fp32 "
            "replaces that optimization (--keep-existing keeps it)",
        ),
    )


def test_keep_existing_leaves_an_optimized_model_with_its_line():
    source = (
        "import torch\nimport torchvision.models as models\n\nm = models.resnet18()\nm = torch.jit.script(m)\nm(1)\n"
    )
    outcome = engine.patch(source, "nano_jit_fp32", keep_existing=True)
    assert isinstance(outcome, engine.Skipped) and outcome.source == source
    assert [str(w) for w in outcome.warnings] == [
        "4:1: C101 'm' is already optimized with torch.jit.script (line 5): not adding a second optimization"
    ]


def test_no_model_leaves_the_bytes_alone():
    assert_codemod("import torch\r\nx = torch.ones(2)  \r\nprint(x)", expected_skip="C001")


def test_crlf_and_missing_final_newline_are_kept():
    assert_codemod(
        "import torchvision\r\n\r\nm = torchvision.models.resnet18()\r\nm(1)",
        "import torchvision\r\nfrom coder.backend import InferenceOptimizer\r\n\r\n"
        "m = torchvision.models.resnet18()\r\n"
        'm = InferenceOptimizer.quantize(m, precision="bf16")\r\n'
        "with InferenceOptimizer.get_context(m):\r\n    m(1)",
        transform="nano_bf16",
    )


def test_the_import_is_followed_by_a_blank_line_when_code_follows_directly():
    assert_codemod(
        """\
        import torchvision
        m = torchvision.models.resnet18()
        m(1)
        """,
        """\
        import torchvision
        from coder.backend import InferenceOptimizer

        m = torchvision.models.resnet18()
        m = InferenceOptimizer.quantize(m, precision="bf16")
        with InferenceOptimizer.get_context(m):
            m(1)
        """,
        transform="nano_bf16",
    )


def test_import_goes_after_docstring_and_future_imports():
    assert_codemod(
        '''\
        #!/usr/bin/env python
        """Doc."""
        from __future__ import annotations
        m = __import__("torchvision").models.resnet18()
        ''',
        expected_skip="C001",
    )  # not resolvable: no model
    assert_codemod(
        '''\
        """Doc."""
        from __future__ import annotations
        from torchvision.models import resnet18

        m = resnet18()
        m(1)
        ''',
        '''\
        """Doc."""
        from __future__ import annotations
        from torchvision.models import resnet18
        from coder.backend import InferenceOptimizer

        m = resnet18()
        m = InferenceOptimizer.quantize(m, precision="bf16")
        with InferenceOptimizer.get_context(m):
            m(1)
        ''',
        transform="nano_bf16",
    )


def test_generate_model_gets_only_the_context_for_graph_transforms():
    before = (
        "from transformers import AutoModelForCausalLM\n\n"
        "m = AutoModelForCausalLM.from_pretrained('x')\nm.generate(ids)\n"
    )
    assert_codemod(
        before,
        """\
        from transformers import AutoModelForCausalLM
        from coder.backend import InferenceOptimizer

        m = AutoModelForCausalLM.from_pretrained('x')
        with InferenceOptimizer.get_context(m):
            m.generate(ids)
        """,
        expected_warnings=(
            "3:1: C201 'm' generates text: nano_jit_fp32 captures a fixed graph, which "
            "generate() cannot use; adding only InferenceOptimizer.get_context",
        ),
    )
    assert 'InferenceOptimizer.quantize(m, precision="bf16")' in engine.patch(before, "nano_bf16").source


def test_baseline_and_custom_calls():
    source = "import torchvision.models as models\n\nm = models.resnet18()\nm(1)\n"
    assert "m = InferenceOptimizer.trace(m)\n" in engine.patch(source, "original").source
    custom = engine.patch_with_call(source, lambda model, loader: f"InferenceOptimizer.trace({model}, thread_num=1)")
    assert "m = InferenceOptimizer.trace(m, thread_num=1)\n" in custom.source


def test_second_model_in_an_existing_context_gets_its_own():
    assert_codemod(
        """\
        import torch
        import torchvision.models as models

        a = models.resnet18()
        with torch.no_grad(), InferenceOptimizer.get_context(a):
            a(1)
            b = models.resnet34()
            b(2)
        """,
        """\
        import torch
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        a = models.resnet18()
        a = InferenceOptimizer.quantize(a, precision="bf16")
        with torch.no_grad(), InferenceOptimizer.get_context(a):
            a(1)
            b = models.resnet34()
            b = InferenceOptimizer.quantize(b, precision="bf16")
            with InferenceOptimizer.get_context(b):
                b(2)
        """,
        transform="nano_bf16",
    )  # b is built inside that with: it gets its own context


def test_an_existing_context_gains_a_model_built_before_it():
    assert_codemod(
        """\
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        a = models.resnet18()
        a = InferenceOptimizer.trace(a)
        b = models.resnet34()
        with InferenceOptimizer.get_context(a):
            a(1)
            b(2)
        """,
        """\
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        a = models.resnet18()
        a = InferenceOptimizer.trace(a)
        b = models.resnet34()
        b = InferenceOptimizer.trace(b, accelerator="jit")
        with InferenceOptimizer.get_context(a, b):
            a(1)
            b(2)
        """,
    )


def test_a_patched_script_is_skipped_as_nothing_to_change():
    assert_codemod(
        """\
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        m = models.resnet18()
        m = InferenceOptimizer.trace(m, accelerator="jit")
        with InferenceOptimizer.get_context(m):
            m(1)
        """,
        expected_skip="C003",
    )


def test_unknown_transform_names_close_matches():
    from coder import transforms

    with pytest.raises(transforms.UnknownTransform, match="nano_jit_bf16"):
        engine.patch("x = 1\n", "nano_jit_bf61")


def test_syntax_error_is_a_script_error_with_position():
    with pytest.raises(engine.ScriptError) as error:
        engine.patch("x = 1\ny = (\n", "nano_bf16")
    assert error.value.located("s.py") == "s.py:2:5: '(' was never closed"


def test_what_libcst_reads_but_cpython_rejects_is_a_script_error():
    with pytest.raises(engine.ScriptError, match="cannot assign to function call"):
        engine.patch("import torchvision\nm = torchvision.models.resnet18()\nm(1)\nf() = 1\n", "nano_bf16")


def test_coder_patch_returns_text_and_warns():
    import coder

    with pytest.warns(engine.CoderWarning, match="C001 no model found"):
        assert coder.patch("x = 1\n", "nano_bf16") == "x = 1\n"


def test_lambda_site_is_left_with_a_warning():
    assert_codemod(
        """\
        import torchvision.models as models

        m = models.resnet18()
        predict = lambda x: m(x)
        m(1)
        """,
        """\
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        m = models.resnet18()
        m = InferenceOptimizer.trace(m, accelerator="jit")
        predict = lambda x: m(x)
        with InferenceOptimizer.get_context(m):
            m(1)
        """,
        expected_warnings=(
            "4:21: C202 no safe place for InferenceOptimizer.get_context around this call "
            "(a lambda, an await in the statement, or the statement that builds the model): "
            "it runs without it",
        ),
    )


def test_alternatives_in_try_except_get_one_call_after_the_weights_load():
    assert_codemod(
        """\
        import torch
        import torchvision.models as models

        try:
            m = torch.load("m.pt")
        except OSError:
            m = models.resnet18()
        m.load_state_dict(state)
        m(1)
        """,
        """\
        import torch
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        try:
            m = torch.load("m.pt")
        except OSError:
            m = models.resnet18()
        m.load_state_dict(state)
        m = InferenceOptimizer.trace(m, accelerator="jit")
        with InferenceOptimizer.get_context(m):
            m(1)
        """,
    )


def test_pipeline_passed_to_a_function_gets_the_context_of_its_model():
    assert_codemod(
        """\
        from transformers import pipeline

        def run(clf, texts):
            return [clf(t) for t in texts]
        p = pipeline('text-classification')
        run(p, ['a'])
        """,
        """\
        from transformers import pipeline
        from coder.backend import InferenceOptimizer

        def run(clf, texts):
            with InferenceOptimizer.get_context(clf.model):
                return [clf(t) for t in texts]
        p = pipeline('text-classification')
        p.model = InferenceOptimizer.quantize(p.model, precision="bf16")
        run(p, ['a'])
        """,
        transform="nano_bf16",
    )


def test_ready_after_weight_init_and_config_changes():
    outcome = assert_codemod(
        """\
        import torchvision.models as models

        m = models.resnet18()
        m.apply(init)
        m.config.use_cache = False
        x = 1
        m(x)
        """,
        """\
        import torchvision.models as models
        from coder.backend import InferenceOptimizer

        m = models.resnet18()
        m.apply(init)
        m.config.use_cache = False
        m = InferenceOptimizer.trace(m, accelerator="jit")
        x = 1
        with InferenceOptimizer.get_context(m):
            m(x)
        """,
    )
    assert isinstance(outcome, engine.Patched)


def test_model_never_called_is_named_and_state_dicts_are_not():
    assert_codemod(
        """\
        import torch
        import torchvision.models as models

        state = torch.load('w.pt')
        m = models.resnet18()
        m.load_state_dict(state)
        torch.save(m, 'm.pt')
        """,
        expected_skip="C002",
        expected_warnings=("5:1: C105 'm' is built but coder sees no inference call on it",),
    )


def test_helpers_calling_helpers_are_followed_to_any_depth():
    assert_codemod(
        """\
        import torchvision

        def a():
            return torchvision.models.resnet18()
        def b():
            return a()
        def c():
            return b()
        def d():
            return c()
        m = d()
        m(1)
        """,
        """\
        import torchvision
        from coder.backend import InferenceOptimizer

        def a():
            return torchvision.models.resnet18()
        def b():
            return a()
        def c():
            return b()
        def d():
            return c()
        m = d()
        m = InferenceOptimizer.trace(m, accelerator="jit")
        with InferenceOptimizer.get_context(m):
            m(1)
        """,
    )


def test_a_method_of_the_same_name_is_not_the_called_helper():
    assert_codemod(
        """\
        import torchvision

        def build():
            return None
        class Factory:
            def build(self):
                return torchvision.models.resnet18()
        m = build()
        m(1)
        """,
        expected_skip="C001",
    )
