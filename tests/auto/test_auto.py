"""`python -m coder -o auto` end to end, on real runs of small scripts (tests/auto/scripts/)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coder import auto
from coder.transforms import CATALOG

SCRIPTS = Path(__file__).parent / "scripts"


def coder_auto(*options, script, script_args=(), env=None, timeout=240):
    command = [sys.executable, "-m", "coder", "-o", "auto", *options, str(SCRIPTS / script), *script_args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def results_by_method(path: Path) -> dict:
    return {r["method"]: r for r in json.loads(path.read_text())["results"]}


@pytest.mark.slow
def test_table_json_plot_and_best_command_from_real_runs(tmp_path):
    report, chart = tmp_path / "auto.json", tmp_path / "auto.png"
    done = coder_auto(
        "--only",
        "nano_jit_fp32,nano_bf16",
        "--calls",
        "5",
        "--json",
        str(report),
        "--plot",
        str(chart),
        script="small_resnet.py",
    )
    assert done.returncode == 0, done.stderr
    results = results_by_method(report)
    assert set(results) == {"original", "nano_jit_fp32", "nano_bf16"}
    assert results["original"]["status"] == "successful"
    for result in results.values():  # whether a transform is faster here is the CPU's business
        assert result["status"] in ("successful", "slower than the original here")
        assert result["timed_calls"] == 5 and result["latency_ms"] > 0
    assert results["nano_jit_fp32"]["max_rel_err"] < 1e-3 and results["nano_bf16"]["top1_agreement"] is not None
    assert results["nano_bf16"]["speedup"] == pytest.approx(
        results["original"]["latency_ms"] / results["nano_bf16"]["latency_ms"]
    )
    assert "method" in done.stdout and "speedup" in done.stdout and "[3/3]" in done.stderr
    winner = json.loads(report.read_text())["best"]
    if winner:
        assert f"python -m coder -o {winner} {SCRIPTS / 'small_resnet.py'}" in done.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000


@pytest.mark.slow
def test_a_crashing_script_fails_to_forward_with_its_error_line(tmp_path):
    report = tmp_path / "auto.json"
    done = coder_auto("--only", "nano_jit_fp32", "--json", str(report), script="crash.py")
    results = results_by_method(report)
    assert done.returncode == 1  # the script itself does not run
    for result in results.values():
        assert result["status"] == "fail to forward"
        assert result["reason"].startswith("RuntimeError: mat1 and mat2 shapes cannot be multiplied")


@pytest.mark.slow
def test_drift_the_runtime_checks_miss_is_reported(tmp_path):
    report = tmp_path / "auto.json"
    coder_auto("--only", "nano_jit_fp32", "--calls", "3", "--json", str(report), script="stateful.py")
    results = results_by_method(report)
    assert results["original"]["status"] == "successful" and results["original"]["max_rel_err"] == 0
    assert results["nano_jit_fp32"]["status"] == "drift too large"
    assert results["nano_jit_fp32"]["max_rel_err"] > 1.0


@pytest.mark.slow
def test_drift_the_runtime_catches_is_reported_with_its_reason(tmp_path):
    report = tmp_path / "auto.json"
    coder_auto(
        "--only",
        "nano_jit_fp32",
        "--exclude",
        "original",
        "--calls",
        "3",
        "--json",
        str(report),
        script="switched.py",
        script_args=["2"],
    )
    result = results_by_method(report)["nano_jit_fp32"]
    assert result["status"] == "drift too large"
    assert result["reason"].startswith("runtime check: output differs from the original model")


@pytest.mark.slow
def test_a_model_no_runtime_can_convert_fails_to_convert(tmp_path):
    report = tmp_path / "auto.json"
    done = coder_auto(
        "--only",
        "nano_jit_fp32",
        "--exclude",
        "original",
        "--calls",
        "3",
        "--json",
        str(report),
        script="unconvertible.py",
    )
    result = results_by_method(report)["nano_jit_fp32"]
    assert done.returncode == 0 and result["status"] == "fail to convert"
    assert "non-tensor value (str)" in result["reason"] and result["latency_ms"] > 0


def test_a_missing_library_is_reported_without_running(tmp_path):
    # Python's own rule: a None in sys.modules makes the module unimportable
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['onnxruntime'] = None\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    report = tmp_path / "auto.json"
    done = coder_auto(
        "--only",
        "nano_onnxruntime_fp32",
        "--exclude",
        "original",
        "--json",
        str(report),
        script="small_resnet.py",
        env=env,
        timeout=60,
    )
    result = results_by_method(report)["nano_onnxruntime_fp32"]
    assert done.returncode == 0 and result["status"] == "lack dependency" and result["reason"] == "onnxruntime"
    assert result["seconds"] is None and "No transform ran successfully" in done.stdout


@pytest.mark.slow
def test_timeout_then_ctrl_c_prints_the_results_so_far(tmp_path):
    report = tmp_path / "auto.json"
    command = [
        sys.executable,
        "-m",
        "coder",
        "-o",
        "auto",
        "--only",
        "nano_jit_fp32,nano_bf16",
        "--timeout",
        "6",
        "--json",
        str(report),
        str(SCRIPTS / "hang.py"),
    ]
    # a shell's background job starts with SIGINT ignored, and a child inherits that: undo it
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for_line(process, "[1/3] original")
    time.sleep(2)  # inside the second run (catalog order: nano_bf16, then nano_jit_fp32)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    results = results_by_method(report)
    # the script never ended, so its one call was never replayed: no latency
    assert results["original"]["status"] == "timeout" and results["original"]["latency_ms"] is None
    assert results["nano_bf16"]["status"] == "interrupted" and results["nano_jit_fp32"]["status"] == "not run"
    assert "interrupted" in stderr and "not run" in stdout


@pytest.mark.slow
def test_a_one_call_script_and_a_5000_batch_loader_are_timed_alike(tmp_path):
    for script, name in (("one_call.py", "ResNet#0"), ("dataloader_5000.py", "Sequential#0")):
        report = tmp_path / f"{script}.json"
        done = coder_auto("--only", "nano_jit_fp32", "--calls", "6", "--json", str(report), script=script)
        assert done.returncode == 0, done.stderr
        for result in results_by_method(report).values():
            model = result["models"][0]
            assert model["name"] == name and result["timed_calls"] == 6 and result["first_call_s"] > 0
            # one call, or the loader's first few of its 5,000 batches: the runs stop once timed
            assert model["calls"] <= 5 and result["spread_ms"] is not None and result["peak_mib"] > 0


@pytest.mark.slow
def test_emit_best_writes_the_winner_and_apply_runs_it(tmp_path):
    report, best_script = tmp_path / "auto.json", tmp_path / "best.py"
    done = coder_auto(
        "--only",
        "nano_jit_fp32",
        "--calls",
        "5",
        "--json",
        str(report),
        "--emit-best",
        str(best_script),
        "--apply",
        script="one_call.py",
    )
    assert done.returncode == 0, done.stderr
    winner = json.loads(report.read_text())["best"] or "original"
    call = "InferenceOptimizer.trace(model" + (', accelerator="jit")' if winner == "nano_jit_fp32" else ")")
    assert call in best_script.read_text()
    assert f"coder: running {SCRIPTS / 'one_call.py'} with {winner}" in done.stderr
    assert done.stdout.rstrip().endswith("classes: [0, 0]") or "classes:" in done.stdout.splitlines()[-1]


def wait_for_line(process, text: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if text in line:
            return
    raise AssertionError(f"no line with {text!r} within {limit} s")


def test_a_transform_this_cpu_cannot_run_is_not_run(tmp_path):
    env = dict(os.environ, CODER_CPUINFO=str(Path(__file__).parents[1] / "cpuinfo" / "zen3.txt"))
    report = tmp_path / "auto.json"
    done = coder_auto(
        "--only",
        "nano_jit_bf16_ipex",
        "--exclude",
        "original",
        "--json",
        str(report),
        script="small_resnet.py",
        env=env,
        timeout=60,
    )
    result = results_by_method(report)["nano_jit_bf16_ipex"]
    assert done.returncode == 0 and result["status"] == "unsupported on this CPU"
    assert result["reason"] == "IPEX BF16 needs AVX-512" and result["seconds"] is None


def test_unknown_names_are_a_usage_error_with_close_matches(capsys):
    code = auto.run("script.py", [], {"only": ["nano_jit_fp33"], "exclude": None})
    assert code == 2
    assert "unknown transform 'nano_jit_fp33'; did you mean nano_jit_fp32" in capsys.readouterr().err


def test_only_keeps_the_original_as_baseline_and_exclude_removes_names():
    assert auto.selected_methods(["nano_bf16"], None) == ["original", "nano_bf16"]
    chosen = auto.selected_methods(None, "original,nano_bf16")
    assert "original" not in chosen and "nano_bf16" not in chosen and len(chosen) == len(CATALOG) - 1
    with pytest.raises(auto.UsageError, match="leave nothing to run"):
        auto.selected_methods("nano_bf16", "original,nano_bf16")
