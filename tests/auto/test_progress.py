"""The progress display: a line per method, and a live line on a terminal."""

import io
import json

from coder.auto.progress import Progress
from coder.auto.result import Result
from coder.auto.trial import Trial


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_a_live_line_replaced_by_the_result(tmp_path):
    trial = Trial("nano_bf16", "script.py", [], tmp_path, calls=20, threads="2")
    trial.record_path.write_text(json.dumps({"models": [{"timed_calls": 7}]}))
    screen = Terminal()
    progress = Progress(2, screen)
    progress.tick(trial, 3.2)
    progress.done(Result("nano_bf16", "successful", latency_ms=12.5, seconds=9.0))
    live, final = screen.getvalue().split("\r")[1:]
    assert live.startswith("[1/2] nano_bf16") and "running     3 s, 7/20 timed calls" in live
    assert final.startswith("[1/2] nano_bf16") and final.rstrip().endswith("successful  12.50 ms  (9 s)")


def test_a_pipe_gets_one_plain_line_per_method(tmp_path):
    trial = Trial("original", "script.py", [], tmp_path, calls=20, threads="2")
    stream = io.StringIO()
    progress = Progress(2, stream)
    progress.tick(trial, 1.0)
    progress.done(Result("original", "timeout", latency_ms=None, seconds=6.0))
    progress.done(Result("nano_int8", "lack dependency", "neural_compressor"))
    assert stream.getvalue().splitlines() == [
        "[1/2] original                           timeout  (6 s)",
        "[2/2] nano_int8                          lack dependency (neural_compressor)",
    ]
