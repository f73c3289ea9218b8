"""Scripts that already optimize their model: -o NAME replaces that optimization, --keep-existing
keeps it, a flag that is off by default does not decide, an INT8 copy is compared with the original."""

import textwrap

from coder import engine
from tests.engine.codemod import assert_codemod

FLAGS = textwrap.dedent("""\
    import argparse
    import torch
    import torchvision

    parser = argparse.ArgumentParser()
    parser.add_argument("--jit", action="store_true")
    parser.add_argument("--no-compile", action="store_true")
    args = parser.parse_args()
    m = torchvision.models.resnet18().eval()
    """)


def test_optimizations_in_a_no_grad_block_go_with_the_block():
    assert_codemod(
        """\
        import torch
        import torchvision

        m = torchvision.models.resnet18().eval()
        x = torch.rand(1, 3, 8, 8)
        # trace and freeze
        with torch.no_grad():
            m = torch.jit.trace(m, x)
            m = torch.jit.freeze(m)
        m(x)
        """,
        """\
        import torch
        import torchvision
        from coder.backend import InferenceOptimizer

        m = torchvision.models.resnet18().eval()
        x = torch.rand(1, 3, 8, 8)
        # trace and freeze
        m = InferenceOptimizer.trace(m, accelerator="jit")
        with InferenceOptimizer.get_context(m):
            m(x)
        """,
        expected_warnings=(
            "4:1: C203 'm' is already optimized with torch.jit.trace (line 8), torch.jit.freeze "
            "(line 9): nano_jit_fp32 replaces that optimization (--keep-existing keeps it)",
        ),
    )


def test_a_flag_off_by_default_leaves_its_optimization_and_does_not_block():
    outcome = assert_codemod(
        FLAGS + "if args.jit:\n    m = torch.jit.script(m)\nm(1)\n",
        FLAGS.replace("import torchvision\n", "import torchvision\nfrom coder.backend import InferenceOptimizer\n")
        + (
            "if args.jit:\n    m = torch.jit.script(m)\n"
            'm = InferenceOptimizer.trace(m, accelerator="jit")\n'
            "with InferenceOptimizer.get_context(m):\n    m(1)\n"
        ),
    )
    assert isinstance(outcome, engine.Patched)


def test_a_flag_on_by_default_is_the_default_path_and_is_replaced():
    outcome = engine.patch(FLAGS + "if not args.no_compile:\n    m = torch.compile(m)\nm(1)\n", "nano_bf16")
    assert "torch.compile" not in outcome.source and "if not args.no_compile" not in outcome.source
    assert [w.code for w in outcome.warnings] == ["C203"]


def test_a_condition_coder_cannot_read_leaves_the_optimization():
    outcome = engine.patch(FLAGS + "if torch.cuda.is_available():\n    m = torch.compile(m)\nm(1)\n", "nano_bf16")
    assert "    m = torch.compile(m)\n" in outcome.source and outcome.warnings == ()
    assert 'm = InferenceOptimizer.quantize(m, precision="bf16")\n' in outcome.source


def test_an_int8_copy_is_left_and_the_original_is_optimized_after_it():
    assert_codemod(
        """\
        import torch
        import torchvision

        m = torchvision.models.resnet18().eval()
        q = torch.quantization.quantize_dynamic(m, {torch.nn.Linear})
        m(1)
        q(1)
        """,
        """\
        import torch
        import torchvision
        from coder.backend import InferenceOptimizer

        m = torchvision.models.resnet18().eval()
        q = torch.quantization.quantize_dynamic(m, {torch.nn.Linear})
        m = InferenceOptimizer.quantize(m, precision="int8")
        with InferenceOptimizer.get_context(m):
            m(1)
        q(1)
        """,
        transform="nano_int8",
        expected_warnings=(
            "5:1: C101 'q' is already optimized with quantize_dynamic (line 5): not adding a second optimization",
        ),
    )


def test_an_optimized_copy_is_made_with_the_transform_and_the_original_kept_as_reference():
    assert_codemod(
        """\
        import torch
        import torchvision

        m = torchvision.models.resnet18().eval()
        fast = torch.compile(m)
        print(fast(1) - m(1))
        """,
        """\
        import torch
        import torchvision
        from coder.backend import InferenceOptimizer

        m = torchvision.models.resnet18().eval()
        fast = InferenceOptimizer.quantize(m, precision="bf16")
        with InferenceOptimizer.get_context(fast):
            print(fast(1) - m(1))
        """,
        transform="nano_bf16",
        expected_warnings=(
            "5:1: C203 'm' is already optimized with torch.compile (line 5): nano_bf16 replaces that optimization "
            "(--keep-existing keeps it)",
        ),
    )


def test_keep_existing_and_the_baseline_keep_the_scripts_optimization():
    source = "import torch\nimport torchvision\nm = torchvision.models.resnet18().eval()\nm = torch.compile(m)\nm(1)\n"
    kept = engine.patch(source, "nano_bf16", keep_existing=True)
    assert isinstance(kept, engine.Skipped) and [w.code for w in kept.warnings] == ["C101"]
    baseline = engine.patch(source, "original").source
    assert "m = torch.compile(m)\nm = InferenceOptimizer.trace(m)\n" in baseline


def test_a_model_loaded_compiled_is_never_optimized_again():
    assert_codemod(
        "import torch\nm = torch.jit.load('m.pt')\nm(1)\n",
        expected_skip="C003",
        expected_warnings=("2:1: C101 'm' is already optimized with torch.jit.load: not adding a second optimization",),
    )
