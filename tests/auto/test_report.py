"""Statuses, speedups, ties, the best method, the table and the commands, on results as runs give them."""

import io
import json

from rich.console import Console

from coder.auto import report
from coder.auto.result import Result, Status, best, finish


def rendered(renderable, colour=False, width=200) -> str:
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=colour, color_system="standard" if colour else None).print(renderable)
    return out.getvalue()


def test_rows_sorted_by_status_then_latency_and_drift_never_wins():
    results = finish(
        [
            Result("nano_int8", Status.DRIFT_TOO_LARGE, "max rel err 0.9 > 0.25", latency_ms=2.0),
            Result("nano_onnxruntime_fp32", Status.LACK_DEPENDENCY, "onnxruntime"),
            Result("original", Status.SUCCESSFUL, latency_ms=40.0, spread_ms=1.0),
            Result("nano_jit_bf16", Status.SUCCESSFUL, latency_ms=10.0, spread_ms=0.5),
            Result("nano_bf16", Status.FAIL_TO_FORWARD, "RuntimeError: boom"),
        ]
    )
    assert [r.method for r in results] == [
        "nano_jit_bf16",
        "original",
        "nano_int8",
        "nano_bf16",
        "nano_onnxruntime_fp32",
    ]
    assert results[0].speedup == 4.0 and best(results).method == "nano_jit_bf16"
    lines = rendered(report.table(results)).splitlines()
    assert lines[0].split()[:4] == ["method", "status", "latency", "ms"]
    assert lines[2].split() == [
        "nano_jit_bf16",
        "successful",
        "10.00",
        "±0.25",
        "4.00x",
    ]  # no row has a drift: no column
    assert lines[6].split()[:3] == ["nano_onnxruntime_fp32", "lack", "dependency"]


def test_the_commands_to_apply_the_best_keep_the_script_arguments():
    results = finish(
        [
            Result("original", Status.SUCCESSFUL, latency_ms=9.0),
            Result("nano_openvino_int8", Status.SUCCESSFUL, latency_ms=3.0),
        ]
    )
    text = rendered(report.recommendation(results, "dir/my script.py", ["--batch-size", "8"]))
    assert text.startswith("Best: nano_openvino_int8 (3.00 ms per call, 3.00x the original).\n")
    assert "python -m coder -o nano_openvino_int8 'dir/my script.py' --batch-size 8" in text
    assert "--emit 'dir/my script_nano_openvino_int8.py' 'dir/my script.py'" in text


def test_a_successful_row_not_faster_is_slower_than_the_original_with_its_speedup():
    results = finish(
        [Result("original", Status.SUCCESSFUL, latency_ms=5.0), Result("nano_bf16", Status.SUCCESSFUL, latency_ms=6.0)]
    )
    assert best(results) is None and results[1].status == Status.SLOWER
    assert results[1].reason == "measured here: 6 ms vs 5 ms per call"
    assert results[1].speedup == 5.0 / 6.0  # measured: the row keeps its speedup
    assert rendered(report.recommendation(results, "s.py", [])).startswith("No transform ran faster")


def test_rows_that_fell_back_show_no_speedup():
    results = finish(
        [
            Result("original", Status.SUCCESSFUL, latency_ms=5.0),
            Result(
                "nano_bf16",
                Status.SLOWER,
                "runtime check: not faster than the original here",
                latency_ms=4.9,
                fell_back=True,
            ),
            Result("nano_jit_fp32", Status.FAIL_TO_CONVERT, "RuntimeError: boom", latency_ms=4.8, fell_back=True),
            Result(
                "nano_int8", Status.DRIFT_TOO_LARGE, "runtime check: output differs", latency_ms=1.0, fell_back=True
            ),
        ]
    )
    assert [r.speedup for r in results] == [1.0, None, None, None]
    assert best(results) is None and all(r.ties == [] for r in results[1:])


def test_ties_within_the_noise_are_marked_and_the_recommendation_says_so():
    results = finish(
        [
            Result("original", Status.SUCCESSFUL, latency_ms=30.0, spread_ms=2.0),
            Result("nano_openvino_int8", Status.SUCCESSFUL, latency_ms=10.0, spread_ms=1.0),
            Result("nano_jit_bf16", Status.SUCCESSFUL, latency_ms=10.6, spread_ms=0.8),
            Result("nano_openvino_fp32", Status.SUCCESSFUL, latency_ms=20.0, spread_ms=1.0),
        ]
    )
    winner = best(results)
    assert winner.method == "nano_openvino_int8" and winner.ties == ["nano_jit_bf16"]
    marked = [line.split()[0] for line in rendered(report.table(results)).splitlines() if line.rstrip().endswith("≈")]
    assert marked == ["nano_jit_bf16"]
    text = rendered(report.recommendation(results, "s.py", []))
    assert "Within the measured noise of it: nano_jit_bf16 (10.60 ms); any of them is as fast here." in text


def test_a_winner_within_the_noise_of_the_original_is_said_to_be_uncertain():
    results = finish(
        [
            Result("original", Status.SUCCESSFUL, latency_ms=10.0, spread_ms=2.0),
            Result("nano_jit_fp32", Status.SUCCESSFUL, latency_ms=9.5, spread_ms=2.0),
        ]
    )
    assert best(results).ties == ["original"]
    assert "within the measured noise of the original: the gain is not certain" in rendered(
        report.recommendation(results, "s.py", [])
    )


def test_a_skewed_original_does_not_tie_with_a_much_faster_row():
    # a busy machine: the original's slow calls widen its spread upward only (seen: 273 ms,
    # interquartile range 1,044 ms, beside 6.8 ms)
    results = finish(
        [
            Result("original", Status.SUCCESSFUL, latency_ms=272.9, spread_ms=1044.0, quartiles_ms=(150.0, 1194.0)),
            Result("nano_openvino_int8", Status.SUCCESSFUL, latency_ms=6.77, spread_ms=2.4, quartiles_ms=(5.9, 8.3)),
            Result("nano_jit_fp32", Status.SUCCESSFUL, latency_ms=172.4, spread_ms=94.0, quartiles_ms=(140.0, 234.0)),
        ]
    )
    assert best(results).ties == [] and "not certain" not in rendered(report.recommendation(results, "s.py", []))
    assert [r.method for r in results if "original" in r.ties] == ["nano_jit_fp32"]


def test_statuses_are_coloured_on_a_terminal_and_plain_elsewhere_with_full_texts_when_verbose():
    reason = "runtime check: not faster than the original here: 643 ms vs 652 ms per call; " + "x" * 80
    results = finish(
        [
            Result("original", Status.SUCCESSFUL, latency_ms=5.0),
            Result("nano_bf16", Status.SLOWER, reason, latency_ms=6.0, fell_back=True),
        ]
    )
    assert "\033[" not in rendered(report.table(results)) and reason not in rendered(report.table(results))
    assert "\033[32msuccessful" in rendered(report.table(results), colour=True)
    verbose = rendered(report.table(results, verbose=True), width=400)
    assert reason in verbose and "timed calls" in verbose


def test_json_keeps_every_figure_and_the_status_text(tmp_path):
    results = finish(
        [
            Result(
                "original",
                Status.SUCCESSFUL,
                latency_ms=5.0,
                spread_ms=0.2,
                first_call_s=0.1,
                peak_mib=300.0,
                models=[{"name": "ResNet#0"}],
            )
        ]
    )
    report.write_json(tmp_path / "r.json", results, report.context("s.py", [], "2", 20, 10.0), complete=True)
    data = json.loads((tmp_path / "r.json").read_text())
    row = data["results"][0]
    assert row["status"] == "successful" and row["spread_ms"] == 0.2 and row["models"] == [{"name": "ResNet#0"}]
    assert "optimized" not in row and data["environment"]["threads"] == 2
    assert set(data["environment"]["cpu"]) == {"name", "capability", "features"}
    assert data["environment"]["libraries"]["torch"]


def test_a_narrow_terminal_keeps_method_and_status_and_leaves_out_the_last_columns():
    results = finish(
        [
            Result(
                "original",
                Status.SUCCESSFUL,
                latency_ms=422.8,
                spread_ms=120.0,
                first_call_s=1.4,
                peak_mib=709,
                max_rel_err=0.0,
                top1_agreement=1.0,
            ),
            Result(
                "nano_jit_bf16_ipex_channels_last",
                Status.SUCCESSFUL,
                latency_ms=545.3,
                spread_ms=1.0,
                first_call_s=14.8,
                peak_mib=765,
                max_rel_err=4e-7,
                top1_agreement=1.0,
            ),
        ]
    )
    lines = rendered(report.table(results, width=80), width=80).splitlines()
    assert lines[0].split()[:2] == ["method", "status"] and "top-1" not in lines[0]
    assert lines[3].split()[:2] == ["nano_jit_bf16_ipex_channels_last", "slower"]
    assert any(line.startswith("left out to fit the terminal: ") and "top-1" in line for line in lines)
