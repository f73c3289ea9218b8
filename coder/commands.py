"""What the command line does with a script: inspect it, or patch it and diff, emit or run it.

The CLI's building blocks (each returns the exit code, or what to print):
``inspect_script``, ``patch_script``, ``describe`` (the --inspect report, a rich table),
``unified_diff`` (the text) and ``print_diff`` (coloured on a terminal, byte for byte otherwise),
``print_findings`` (one ruff-style line each on stderr: ``script.py:6:1: C101 message``).
"""

from __future__ import annotations

import difflib
import json
import sys

from rich.console import Console, Group
from rich.text import Text

from coder import console, engine
from coder.engine.outcome import Finding, ScriptError
from coder.script_files import read_script, write_script

EXIT_USAGE = 2
DIFF_STYLES = {"+": "green", "-": "red", "@": "cyan"}


def inspect_script(path: str, as_json: bool) -> int:
    try:
        source, _ = read_script(path)
        found = engine.inspect(source, path)
    except ScriptError as error:
        return _fail(error, path)
    print_findings([Finding(**warning) for warning in found["warnings"]], path)
    if as_json:
        print(json.dumps(found, indent=2))
    else:
        console.stdout().print(describe(found, path))
    return 0


def describe(found: dict, path: str) -> Group:
    """The human-readable --inspect report: a row per model, the loaders, then the candidates."""
    from rich.table import Table  # here: --diff, the fast path, needs no table

    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0))
    for header in ("model", "built (line)", "scope", "ready after (line)", "inference (lines)"):
        table.add_column(header, style="bold" if header == "model" else None)
    for model in found["models"]:
        sites = [str(s["line"]) for s in found["inference"] if s["model"] == model["var"]]
        table.add_row(model["var"], str(model["line"]), model["scope"], str(model["ready_line"]), ", ".join(sites))
    title = Text(f"{path}: {len(found['models'])} model(s)", style="bold")
    return Group(title, table, Text(f"loaders: {_loaders(found)}"), *_described_candidates(found["candidates"]))


def _loaders(found: dict) -> str:
    return ", ".join(f"{loader['var']} (line {loader['line']})" for loader in found["loaders"]) or "none"


def _described_candidates(candidates: list[dict]) -> list[Text]:
    """Each value that may be a model, whether it was taken for one, and the evidence."""
    lines = [Text("candidates:")] if candidates else []
    for candidate in candidates:
        verdict = "a model" if candidate["model"] else "not a model"
        evidence = "; ".join(candidate["evidence"])
        lines.append(Text(f"  {candidate['var']} (line {candidate['line']}): {verdict}; {evidence}"))
    return lines


def patch_script(
    name: str, path: str, script_args: list[str], diff: bool, emit: str | None, keep_existing: bool = False
) -> int:
    call = engine.optimizer_call_for(name)  # an unknown name fails before the script is read
    try:
        source, encoding = read_script(path)
        outcome = engine.patch(source, call, path=path, keep_existing=keep_existing)
    except ScriptError as error:
        return _fail(error, path)
    print_findings(outcome.findings, path)
    if diff:
        print_diff(unified_diff(source, outcome.source, path, name), console.stdout())
        return 0
    if emit is not None:
        return _emit(outcome.source, emit, encoding, path)
    from coder.runner import run

    return run(outcome.source, path, script_args, original=source)


def _emit(text: str, destination: str, encoding: str, path: str) -> int:
    if destination == "-":
        sys.stdout.write(text)
        return 0
    try:
        write_script(destination, text, encoding, path)
    except ScriptError as error:
        print(f"coder: {error.message}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def unified_diff(before: str, after: str, path: str, name: str) -> str:
    lines = difflib.unified_diff(before.splitlines(True), after.splitlines(True), path, f"{path} (-o {name})")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def print_diff(text: str, out: Console) -> None:
    """Coloured on a terminal; elsewhere the diff byte for byte, fit for ``patch``."""
    if console.is_plain(out):
        out.file.write(text)
        return
    out.print(styled_diff(text), end="", soft_wrap=True)


def styled_diff(text: str) -> Text:
    styled = Text()
    for line in text.splitlines(keepends=True):
        styled.append(line, style="bold" if line.startswith(("+++", "---")) else DIFF_STYLES.get(line[:1], ""))
    return styled


def print_findings(findings: list[Finding], path: str) -> None:
    for finding in findings:
        print(finding.located(path), file=sys.stderr)


def _fail(error: ScriptError, path: str) -> int:
    print(f"coder: {error.located(path)}", file=sys.stderr)
    return EXIT_USAGE
