"""The command line as a user meets it (DESIGN section 5), run in subprocesses like a user would."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from coder import cli, transforms
from coder.backend.cpu import this_cpu
from coder.commands import print_diff, unified_diff

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "coder" / "examples" / "resnet_inference.py"
# runs the CLI, then says on the last stderr line whether torch got imported
PROBE = (
    "import sys\nfrom coder.cli import main\ncode = main(sys.argv[1:])\n"
    "print('torch imported' if 'torch' in sys.modules else 'torch not imported', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def coder(*args, cwd=None, path=()) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [*map(str, path), str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
        timeout=120,
    )  # this checkout's coder, whatever the cwd


def errors(result) -> list[str]:
    return result.stderr.splitlines()[:-1]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_diff_is_plain_when_piped_and_does_not_import_torch():
    result = coder("-o", "nano_jit_bf16_ipex", "--diff", EXAMPLE)
    assert result.returncode == 0
    assert result.stdout.startswith(f"--- {EXAMPLE}\n+++ {EXAMPLE} (-o nano_jit_bf16_ipex)\n")
    assert "+    with torch.no_grad(), InferenceOptimizer.get_context(model):\n" in result.stdout
    assert "\033[" not in result.stdout
    assert result.stderr.splitlines() == ["torch not imported"]


def test_diff_colours_on_a_terminal_and_is_byte_for_byte_elsewhere():
    text = unified_diff("a\tb\n", "b\n", "s.py", "nano_bf16")
    terminal, pipe = io.StringIO(), io.StringIO()
    print_diff(text, Console(file=terminal, force_terminal=True, color_system="standard"))
    print_diff(text, Console(file=pipe))
    assert "\033[31m-a" in terminal.getvalue() and "\033[32m+b\033[0m\n" in terminal.getvalue()
    assert pipe.getvalue() == text and "-a\tb\n" in text


def test_emit_to_file_and_stdout_without_torch(tmp_path):
    out = tmp_path / "patched.py"
    result = coder("-o", "nano_int8", "--emit", out, EXAMPLE)
    assert result.returncode == 0 and result.stderr.splitlines() == ["torch not imported"]
    assert 'model = InferenceOptimizer.quantize(model, precision="int8")\n' in out.read_text()
    to_stdout = coder("-o", "nano_int8", "--emit", "-", EXAMPLE)
    assert to_stdout.stdout == out.read_text()


def test_emit_never_writes_over_the_script(tmp_path):
    script = write(tmp_path / "s.py", "import torchvision\nm = torchvision.models.resnet18()\nm(1)\n")
    before = script.read_bytes()
    result = coder("-o", "nano_bf16", "--emit", "./s.py", "s.py", cwd=tmp_path)
    assert result.returncode == 2
    assert errors(result) == ["coder: refusing to write over the script itself (./s.py); pick another --emit path"]
    assert script.read_bytes() == before


def test_inspect_json_and_text_without_torch():
    result = coder("--inspect", EXAMPLE, "--json")
    assert result.returncode == 0 and result.stderr.splitlines() == ["torch not imported"]
    assert json.loads(result.stdout) == {
        "models": [{"var": "model", "line": 23, "ready_line": 24, "scope": "main"}],
        "inference": [{"model": "model", "line": 29}, {"model": "model", "line": 32}],
        "loaders": [],
        "warnings": [],
        "candidates": [
            {"var": "model", "line": 23, "model": True, "evidence": ["built by torchvision.models.resnet18: +2"]}
        ],
    }
    text = coder("--inspect", EXAMPLE).stdout.splitlines()
    assert text[0] == f"{EXAMPLE}: 1 model(s)" and text[3] == "loaders: none"
    assert text[2].split() == ["model", "23", "main", "24", "29,", "32"] and "\033[" not in "".join(text)
    assert text[4:] == ["candidates:", "  model (line 23): a model; built by torchvision.models.resnet18: +2"]


def test_list_without_torch():
    result = coder("--list")
    assert result.returncode == 0 and result.stderr.splitlines() == ["torch not imported"]
    assert result.stdout.count("\n") >= 39 and "nano_openvino_int8" in result.stdout


def test_list_without_ipex_names_the_nearest_alternative(tmp_path):
    # Python's own rule: a None in sys.modules makes the module unimportable
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['intel_extension_for_pytorch'] = None\n")
    listing = coder("--list", path=[tmp_path]).stdout
    entries = dict(zip(*[iter(line.strip() for line in listing.splitlines()[1:])] * 2))
    nearest = {
        name.split()[0]: text.split("nearest available here: ")[1].split(";")[0]
        for name, text in entries.items()
        if "nearest" in text
    }
    # a name this CPU cannot run says so instead (Zen 3: no IPEX BF16 without AVX-512)
    runnable = {name for name in transforms.names() if transforms.get(name).verdict(this_cpu()).kind != "unsupported"}
    assert nearest == {name: near for name, near in ALTERNATIVES.items() if name in runnable}


ALTERNATIVES = {
    "nano_fp32_ipex": "nano_jit_fp32",
    "nano_fp32_ipex_channels_last": "nano_fp32_channels_last",
    "nano_bf16_ipex": "nano_bf16",
    "nano_bf16_ipex_channels_last": "nano_bf16_channels_last",
    "nano_jit_fp32_ipex": "nano_jit_fp32",
    "nano_jit_fp32_ipex_channels_last": "nano_jit_fp32_channels_last",
    "nano_jit_bf16_ipex": "nano_jit_bf16",
    "nano_jit_bf16_ipex_channels_last": "nano_jit_bf16_channels_last",
}


def test_unknown_name_is_one_line_with_close_names():
    result = coder("-o", "nano_jit_bf16_ipx", "--diff", EXAMPLE)
    assert result.returncode == 2
    assert errors(result) == [
        "coder: unknown transform 'nano_jit_bf16_ipx'; did you mean nano_jit_bf16_ipex, "
        "nano_jit_bf16, nano_bf16_ipex? (see --list)"
    ]


@pytest.mark.parametrize(
    "content,message",
    [
        ("x = 1\ndef f(:\n", "s.py:2:7: invalid syntax"),
        (b"\x89PNG\r\n\x1a\n\0\0", "s.py: not a Python script (binary content)"),
        (b"x = '\xe9'\n", "s.py: cannot decode the script: not valid UTF-8, and no coding declaration"),
        (b"# -*- coding: ascii -*-\nx = '\xe9'\n", "s.py: cannot decode the script: not valid ascii at byte 29"),
    ],
)
def test_bad_scripts_are_one_line_exit_2(tmp_path, content, message):
    path = tmp_path / "s.py"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    result = coder("-o", "nano_bf16", "--diff", "s.py", cwd=tmp_path)
    assert (result.returncode, errors(result)) == (2, [f"coder: {message}"])


def test_missing_script_and_directory(tmp_path):
    assert errors(coder("-o", "nano_bf16", "nope.py", cwd=tmp_path)) == [
        "coder: nope.py: cannot read: No such file or directory"
    ]
    assert errors(coder("-o", "nano_bf16", ".", cwd=tmp_path)) == ["coder: .: cannot read: Is a directory"]


def test_usage_errors_are_one_line():
    for args in (
        [],
        ["-o", "nano_bf16"],
        ["--frobnicate"],
        ["--calls", "0", "-o", "auto", "s.py"],
        ["-o", "nano_bf16", "--apply", "s.py"],
        ["-o"],
    ):
        result = coder(*args)
        assert result.returncode == 2 and len(errors(result)) == 1 and "Traceback" not in result.stderr
        assert errors(result)[0].startswith("coder: ") and errors(result)[0].endswith("(see python -m coder --help)")


def test_help_has_examples_and_exits_0():
    result = coder("--help")
    assert result.returncode == 0 and "Usage: python -m coder [OPTIONS] [SCRIPT] [ARGS]..." in result.stdout
    assert "python -m coder -o auto script.py" in result.stdout and "--emit-best PATH" in result.stdout


def test_run_is_the_script_as_main_with_its_argv_file_path_and_exit_code(tmp_path):
    folder = tmp_path / "app"
    folder.mkdir()
    write(folder / "helper.py", "VALUE = 42\n")
    write(
        folder / "main.py",
        "import sys\nimport helper\nprint(__name__, __file__, sys.argv, helper.VALUE)\nsys.exit(3)\n",
    )
    result = coder("-o", "nano_bf16", "app/main.py", "--steps", "2", "-x", cwd=tmp_path)
    assert result.returncode == 3
    assert result.stdout == "__main__ app/main.py ['app/main.py', '--steps', '2', '-x'] 42\n"
    assert errors(result) == ["app/main.py: C001 no model found: the script is left unchanged"]


def test_script_failure_shows_the_scripts_traceback(tmp_path):
    write(tmp_path / "boom.py", "def f():\n    raise ValueError('bad input')\nf()\n")
    result = coder("-o", "nano_bf16", "boom.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "File \"boom.py\", line 2, in f\n    raise ValueError('bad input')" in result.stderr
    assert "coder/runner.py" not in result.stderr and result.stderr.count("File ") == 2


def test_keep_existing_leaves_an_optimized_model_and_names_its_line():
    script = ROOT / "fixtures" / "ipex_bf16_already" / "input.py"
    assert "-model = ipex.optimize(model, dtype=torch.bfloat16)\n" in coder("-o", "nano_bf16", "--diff", script).stdout
    result = coder("-o", "nano_bf16", "--keep-existing", "--diff", script)
    assert result.stdout == ""
    assert errors(result) == [
        f"{script}:6:1: C101 'model' is already optimized with ipex.optimize "
        "(line 10): not adding a second optimization",
        f"{script}: C003 nothing to change: the script is left unchanged",
    ]


def test_auto_dispatch_with_its_options(monkeypatch):
    import coder.auto

    calls = []
    monkeypatch.setattr(coder.auto, "run", lambda *args: calls.append(args) or 0)
    code = cli.main(
        [
            "-o",
            "auto",
            "--only",
            "nano_bf16,nano_int8",
            "--exclude",
            "nano_fp32_ipex",
            "--json",
            "r.json",
            "--plot",
            "r.png",
            "--timeout",
            "30",
            "--calls",
            "5",
            "--budget",
            "2.5",
            "-v",
            "--apply",
            "--emit-best",
            "best.py",
            "s.py",
            "--batch",
            "2",
        ]
    )
    assert code == 0
    assert calls == [
        (
            "s.py",
            ["--batch", "2"],
            {
                "only": ["nano_bf16", "nano_int8"],
                "exclude": ["nano_fp32_ipex"],
                "json": "r.json",
                "plot": "r.png",
                "timeout": 30.0,
                "calls": 5,
                "budget": 2.5,
                "verbose": True,
                "apply": True,
                "emit_best": "best.py",
            },
        )
    ]


def test_auto_unavailable_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "coder.auto", None)
    assert cli.main(["-o", "auto", "s.py"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_version():
    result = coder("--version")
    assert result.returncode == 0 and result.stdout.startswith("coder ")


def test_diff_is_coloured_on_a_real_terminal():
    import os
    import pty

    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"TERM": "xterm"}
    process = subprocess.run(
        [sys.executable, "-m", "coder", "-o", "nano_bf16", "--diff", str(EXAMPLE)],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    os.close(follower)
    output = b""
    while chunk := _read(leader):
        output += chunk
    assert process.returncode == 0
    assert b"\033[32m+from coder.backend import InferenceOptimizer\033[0m" in output


def _read(fd: int) -> bytes:
    import os

    try:
        return os.read(fd, 65536)
    except OSError:  # the terminal closed
        return b""


def test_baseline_pseudo_transform_for_auto():
    result = coder("-o", "original", "--diff", EXAMPLE)
    assert result.returncode == 0 and "+    model = InferenceOptimizer.trace(model)\n" in result.stdout
    assert "original" not in coder("--list").stdout


@pytest.mark.parametrize(
    "argv,call",
    [
        (
            ["-o", "nano_bf16", "s.py", "-o", "y", "--json", "--help"],
            ("nano_bf16", "s.py", ["-o", "y", "--json", "--help"], False, None),
        ),
        (["-onano_bf16", "--emit=out.py", "s.py", "--flag"], ("nano_bf16", "s.py", ["--flag"], False, "out.py")),
        (["-o", "nano_bf16", "--diff", "--", "-weird.py", "a"], ("nano_bf16", "-weird.py", ["a"], True, None)),
    ],
)
def test_arguments_after_the_script_are_the_scripts(monkeypatch, argv, call):
    import coder.commands

    calls = []
    monkeypatch.setattr(
        coder.commands,
        "patch_script",
        lambda name, path, args, diff, emit, keep_existing: calls.append((name, path, args, diff, emit)) or 0,
    )
    assert cli.main(argv) == 0 and calls == [call]


def test_json_is_a_flag_for_inspect_and_list(monkeypatch, capsys):
    import coder.commands

    calls = []
    monkeypatch.setattr(coder.commands, "inspect_script", lambda path, as_json: calls.append((path, as_json)) or 0)
    assert cli.main(["--inspect", "s.py", "--json"]) == 0 and cli.main(["--json", "--inspect", "s.py"]) == 0
    assert calls == [("s.py", True), ("s.py", True)]
    assert cli.main(["--list", "--json"]) == 0 and json.loads(capsys.readouterr().out)["transforms"]


def test_a_subcommand_is_one_registration(monkeypatch, capsys):
    import click

    @click.command("hello", help="say hello")
    @click.argument("who")
    def hello(who):
        print(f"hello {who}")

    monkeypatch.setitem(cli.SUBCOMMANDS.commands, "hello", hello)
    assert cli.main(["hello", "you"]) == 0 and capsys.readouterr().out == "hello you\n"
    assert cli.main(["--help"]) == 0 and "hello  say hello" in capsys.readouterr().out
    assert cli.main(["hello"]) == 2 and "(see python -m coder hello --help)" in capsys.readouterr().err


def test_import_coder_stays_light():
    probe = "import sys, coder; print('libcst' in sys.modules, 'torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout == "False False\n"
