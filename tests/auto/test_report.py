"""Ordering, the best method, and the commands printed, on results as runs produce them."""

from coder.auto import report
from coder.auto.result import Result, add_speedups, best, sort_key


def finished(results):
    add_speedups(results)
    return sorted(results, key=sort_key)


def test_rows_sorted_by_status_then_latency_and_drift_never_wins():
    results = finished([
        Result("nano_int8", "drift too large", "max rel err 0.9 > 0.25", latency_ms=2.0),
        Result("nano_onnxruntime_fp32", "lack dependency", "onnxruntime"),
        Result("original", "successful", latency_ms=40.0),
        Result("nano_jit_bf16", "successful", latency_ms=10.0),
        Result("nano_bf16", "fail to forward", "RuntimeError: boom"),
    ])
    assert [r.method for r in results] == ["nano_jit_bf16", "original", "nano_int8", "nano_bf16",
                                           "nano_onnxruntime_fp32"]
    assert results[0].speedup == 4.0 and best(results).method == "nano_jit_bf16"
    lines = report.table(results).splitlines()
    assert lines[2].split() == ["nano_jit_bf16", "successful", "10.00", "4.00x", "-", "-"]
    assert "lack dependency (onnxruntime)" in lines[-1]


def test_the_commands_to_apply_the_best_keep_the_script_arguments():
    results = finished([Result("original", "successful", latency_ms=9.0),
                        Result("nano_openvino_int8", "successful", latency_ms=3.0)])
    text = report.recommendation(results, "dir/my script.py", ["--batch-size", "8"])
    assert "python -m coder -o nano_openvino_int8 'dir/my script.py' --batch-size 8" in text
    assert "--emit 'dir/my script_nano_openvino_int8.py' 'dir/my script.py'" in text


def test_no_recommendation_when_every_transform_is_slower():
    results = finished([Result("original", "successful", latency_ms=5.0),
                        Result("nano_bf16", "successful", latency_ms=6.0)])
    assert best(results) is None and results[1].status == "slower than the original here"
    assert results[1].speedup == 5.0 / 6.0  # measured: the row keeps its speedup
    assert report.recommendation(results, "s.py", []).startswith("No transform ran faster")


def test_a_row_that_fell_back_shows_no_speedup():
    results = finished([Result("original", "successful", latency_ms=5.0),
                        Result("nano_bf16", "slower than the original here",
                               "runtime check: not faster than the original here", latency_ms=4.9),
                        Result("nano_jit_fp32", "fail to convert", "RuntimeError: boom", latency_ms=4.8)])
    assert [r.speedup for r in results] == [1.0, None, None]
    assert best(results) is None
