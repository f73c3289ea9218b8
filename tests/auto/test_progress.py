"""The progress display: live rows on a terminal, one plain line per method elsewhere."""

import io
import json

from rich.console import Console

from coder.auto.progress import Display
from coder.auto.result import Result, Status
from coder.auto.trial import Trial


def trial_recording(tmp_path, method, models) -> Trial:
    trial = Trial(method, "script.py", [], tmp_path, calls=20, seconds=10.0, threads="2")
    trial.record_path.write_text(json.dumps({"models": models}))
    return trial


def rows(display: Display) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=150).print(display.progress.make_tasks_table(display.progress.tasks))
    return out.getvalue().splitlines()


def test_a_terminal_gets_a_live_row_per_method_with_calls_against_the_target(tmp_path):
    terminal = Console(file=io.StringIO(), force_terminal=True, force_interactive=True, width=150)
    with Display(["original", "nano_bf16"], 20, terminal) as display:
        display.tick(trial_recording(tmp_path, "original", [{"phase": "warm-up", "calls": 3}]), 1.0)
        assert rows(display)[0].split()[:4] == ["[1/2]", "original", "0/20", "calls"]
        assert "warm-up: 3 script calls" in rows(display)[0] and "waiting" in rows(display)[1]
        display.tick(trial_recording(tmp_path, "original", [{"phase": "measuring", "timed_calls": 7}]), 2.0)
        assert "7/20 calls" in rows(display)[0] and "timing the script's inputs" in rows(display)[0]
        display.done(Result("original", Status.SUCCESSFUL, latency_ms=12.5, timed_calls=20, seconds=9.0))
        assert "20/20 calls" in rows(display)[0] and rows(display)[0].endswith("successful  12.50 ms  (9 s)")


def test_a_pipe_gets_one_plain_line_per_method_with_its_reason():
    pipe = io.StringIO()
    with Display(["original", "nano_int8"], 20, Console(file=pipe, width=150)) as display:
        display.done(Result("original", Status.TIMEOUT, latency_ms=None, seconds=6.0))
        display.done(Result("nano_int8", Status.LACK_DEPENDENCY, "neural_compressor"))
    assert pipe.getvalue().splitlines() == [
        "[1/2] original                           timeout  (6 s)",
        "[2/2] nano_int8                          lack dependency (neural_compressor)",
    ]
