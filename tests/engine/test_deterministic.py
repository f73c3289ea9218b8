"""The same script gives byte-identical output under any PYTHONHASHSEED: no iteration over a set or
an id-keyed dict decides what is placed where. The CLI runs in a fresh process per hash seed, on
the fixtures that have several candidates (models, non-models, copies, training and evaluation)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASES = (
    "several_models",
    "negatives_beside_a_model",
    "torch_load_pickled_module",
    "train_validate_each_epoch",
    "mnist_train_test_each_epoch",
    "quantize_dynamic_compare",
    "jit_trace_already",
    "model_classes_lookup",
    "compile_behind_flag",
    "try_fallback_checkpoint",
    "sibling_factory_package",
    "inline_model_argument",
)
SEEDS = ("0", "1", "42", "4294967295")
# one process per seed: the CLI's --emit and --inspect --json on every case, all output on stdout
RUN_CLI = """
import contextlib, io, sys
from coder.cli import main
for path in sys.argv[1:]:
    for argv in (["-o", "nano_jit_fp32", "--emit", "-", path], ["-o", "nano_int8", "--emit", "-", path],
                 ["--inspect", path, "--json"], ["--inspect", path]):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(argv)
        print(code, err.getvalue())
"""


def cli_output(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    paths = [str(ROOT / "fixtures" / case / "input.py") for case in CASES]
    result = subprocess.run(
        [sys.executable, "-c", RUN_CLI, *paths],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    return result.stdout


def test_output_is_the_same_under_every_hash_seed():
    outputs = {seed: cli_output(seed) for seed in SEEDS}
    assert "InferenceOptimizer.trace(" in outputs["0"] and '"candidates"' in outputs["0"]
    assert [seed for seed, output in outputs.items() if output != outputs["0"]] == []
