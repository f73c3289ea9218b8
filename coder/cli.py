"""Command line (DESIGN.md section 5). --diff, --emit, --inspect and --list never import torch."""

from __future__ import annotations

import argparse
import json
import sys

import coder
import transforms

EXIT_USAGE = 2
# coder's options that take a value: the first other word is SCRIPT, and what follows is the script's
VALUED = {"-o", "--emit", "--inspect", "--only", "--exclude", "--plot", "--timeout", "--calls"}
EPILOG = """examples:
  python -m coder --list
  python -m coder -o nano_jit_bf16_ipex --diff script.py
  python -m coder -o nano_jit_bf16_ipex script.py --batch-size 8   (arguments after SCRIPT are the script's)
  python -m coder -o auto script.py
  python -m coder --inspect script.py --json"""


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m coder", description=coder.__doc__, epilog=EPILOG,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"coder {coder.__version__}")
    parser.add_argument("--list", action="store_true", help="list every transform and whether it can run here")
    parser.add_argument("-o", dest="transform", metavar="NAME", help="transform to apply (see --list), or auto")
    parser.add_argument("--diff", action="store_true", help="print the patched script as a unified diff and stop")
    parser.add_argument("--emit", metavar="PATH", help="write the patched script to PATH (- for stdout) and stop")
    parser.add_argument("--keep-existing", action="store_true",
                        help="leave a model the script already optimizes (ipex, torch.jit, torch.compile) as it is")
    parser.add_argument("--inspect", metavar="SCRIPT", help="show the models, ready points, inference and loaders")
    parser.add_argument("--json", nargs="?", const=True, metavar="FILE",
                        help="with --inspect or --list: print JSON; with -o auto: write the results to FILE")
    auto = parser.add_argument_group("-o auto")
    auto.add_argument("--only", metavar="NAMES", help="comma-separated transforms to try")
    auto.add_argument("--exclude", metavar="NAMES", help="comma-separated transforms to skip")
    auto.add_argument("--plot", metavar="FILE.png", help="save a bar chart of the results")
    auto.add_argument("--timeout", type=float, metavar="SECONDS", help="time limit for each run")
    auto.add_argument("--calls", type=int, metavar="N", help="model calls timed in each run")
    parser.add_argument("script", nargs="?", metavar="SCRIPT", help="the PyTorch script (then its own arguments)")
    return parser


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """coder's own arguments (up to and including SCRIPT), and the script's arguments."""
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == "--":
            return argv[:index] + argv[index + 1:index + 2], argv[index + 2:]
        if not word.startswith("-") or word == "-":
            return argv[:index + 1], argv[index + 1:]
        index += 2 if word in VALUED or _json_takes_file(argv, index) else 1
    return argv, []


def _json_takes_file(argv: list[str], index: int) -> bool:
    """``--json`` is a flag for --inspect, and takes FILE for -o auto."""
    if argv[index] != "--json" or any(w.split("=")[0] in ("--inspect", "--list") for w in argv):
        return False
    return index + 1 < len(argv) and not argv[index + 1].startswith("-")


def main(argv: list[str] | None = None) -> int:
    own, script_args = split_argv(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(own)
        return dispatch(args, script_args)
    except UsageError as error:
        print(f"coder: {error} (see python -m coder --help)", file=sys.stderr)
        return EXIT_USAGE
    except transforms.UnknownTransform as error:
        print(f"coder: {error}", file=sys.stderr)
        return EXIT_USAGE


def dispatch(args: argparse.Namespace, script_args: list[str]) -> int:
    if args.list:
        print(list_transforms(as_json=args.json is True))
        return 0
    if args.inspect:
        from coder.commands import inspect_script
        return inspect_script(args.inspect, as_json=args.json is True)
    if not args.transform:
        raise UsageError("say what to do: -o NAME SCRIPT, --inspect SCRIPT or --list")
    if not args.script:
        raise UsageError(f"-o {args.transform} needs a SCRIPT")
    if args.transform == "auto":
        return run_auto(args, script_args)
    from coder.commands import patch_script
    return patch_script(args.transform, args.script, script_args, diff=args.diff, emit=args.emit,
                        keep_existing=args.keep_existing)


def run_auto(args: argparse.Namespace, script_args: list[str]) -> int:
    try:
        from coder import auto
    except ImportError as error:
        print(f"coder: -o auto is not available here ({error})", file=sys.stderr)
        return EXIT_USAGE
    options = {"only": _names(args.only), "exclude": _names(args.exclude), "json": _file(args.json),
               "plot": args.plot, "timeout": args.timeout, "calls": args.calls}
    return auto.run(args.script, script_args, options)


def _names(value: str | None) -> list[str] | None:
    return [name.strip() for name in value.split(",") if name.strip()] if value else None


def _file(value) -> str | None:
    return value if isinstance(value, str) else None


def list_transforms(as_json: bool = False) -> str:
    """Every transform, whether it can run here and its verdict for this CPU (no torch import)."""
    from coder.backend.cpu import this_cpu

    cpu = this_cpu()
    statuses = [transforms.status(entry, cpu) for entry in transforms.CATALOG]
    if as_json:
        return json.dumps({"cpu": cpu.to_json(), "transforms": statuses}, indent=2)
    width = max(len(name) for name in transforms.names())
    lines = [f"CPU: {cpu.summary()}"]
    for entry, status in zip(transforms.CATALOG, statuses):
        lines.append(f"{entry.name:<{width}}  {entry.description}\n{'':<{width}}  [{_status_text(status)}]")
    return "\n".join(lines)


def _status_text(status: dict) -> str:
    verdict, reason = status["verdict"], status["reason"]
    if verdict == "unsupported":
        return f"unsupported on this CPU: {reason}"
    here = "native on this CPU" if verdict == "native" else f"emulated on this CPU: {reason}"
    return f"ready, {here}" if status["install"] is None else f"unavailable: {status['install']}; {here}"
