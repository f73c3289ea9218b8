"""What the command line does with a script: inspect it, or patch it and diff, emit or run it.

The CLI's building blocks (each returns the exit code, or the text to print):
``inspect_script``, ``patch_script``, ``describe`` (the --inspect report), ``unified_diff``,
``print_findings`` (one ruff-style line each on stderr: ``script.py:6:1: C101 message``).
"""

from __future__ import annotations

import difflib
import json
import os
import sys

from coder import engine
from coder.engine.outcome import Finding, ScriptError
from coder.script_files import read_script, write_script

EXIT_USAGE = 2
COLOURS = {"+": "\033[32m", "-": "\033[31m", "@": "\033[36m"}
BOLD, RESET = "\033[1m", "\033[0m"


def inspect_script(path: str, as_json: bool) -> int:
    try:
        source, _ = read_script(path)
        found = engine.inspect(source, path)
    except ScriptError as error:
        return _fail(error, path)
    print_findings([Finding(**warning) for warning in found["warnings"]], path)
    print(json.dumps(found, indent=2) if as_json else describe(found, path))
    return 0


def describe(found: dict, path: str) -> str:
    """The human-readable --inspect report."""
    lines = [f"{path}: {len(found['models'])} model(s)"]
    for model in found["models"]:
        sites = [str(s["line"]) for s in found["inference"] if s["model"] == model["var"]]
        where = f"line {sites[0]}" if len(sites) == 1 else f"lines {', '.join(sites)}"
        lines.append(f"  {model['var']}  built line {model['line']} in {model['scope']}, "
                     f"ready after line {model['ready_line']}, inference at {where}")
    loaders = ", ".join(f"{l['var']} (line {l['line']})" for l in found["loaders"]) or "none"
    lines.append(f"  loaders: {loaders}")
    lines += _described_candidates(found["candidates"])
    return "\n".join(lines)


def _described_candidates(candidates: list[dict]) -> list[str]:
    """Each value that may be a model, whether it was taken for one, and the evidence."""
    lines = ["  candidates:"] if candidates else []
    for candidate in candidates:
        verdict = "a model" if candidate["model"] else "not a model"
        evidence = "; ".join(candidate["evidence"])
        lines.append(f"    {candidate['var']} (line {candidate['line']}): {verdict}; {evidence}")
    return lines


def patch_script(name: str, path: str, script_args: list[str], diff: bool, emit: str | None,
                 keep_existing: bool = False) -> int:
    call = engine.optimizer_call_for(name)  # an unknown name fails before the script is read
    try:
        source, encoding = read_script(path)
        outcome = engine.patch(source, call, path=path, keep_existing=keep_existing)
    except ScriptError as error:
        return _fail(error, path)
    print_findings(outcome.findings, path)
    if diff:
        sys.stdout.write(unified_diff(source, outcome.source, path, name, colour=_wants_colour()))
        return 0
    if emit is not None:
        return _emit(outcome.source, emit, encoding, path)
    from coder.runner import run
    return run(outcome.source, path, script_args)


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


def unified_diff(before: str, after: str, path: str, name: str, colour: bool) -> str:
    lines = difflib.unified_diff(before.splitlines(True), after.splitlines(True), path, f"{path} (-o {name})")
    text = [line if line.endswith("\n") else line + "\n" for line in lines]
    return "".join(_colour(line) for line in text) if colour else "".join(text)


def _colour(line: str) -> str:
    if line.startswith(("+++", "---")):
        return f"{BOLD}{line[:-1]}{RESET}\n"
    code = COLOURS.get(line[:1])
    return f"{code}{line[:-1]}{RESET}\n" if code else line


def _wants_colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def print_findings(findings: list[Finding], path: str) -> None:
    for finding in findings:
        print(finding.located(path), file=sys.stderr)


def _fail(error: ScriptError, path: str) -> int:
    print(f"coder: {error.located(path)}", file=sys.stderr)
    return EXIT_USAGE
