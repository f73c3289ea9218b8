"""Command line (DESIGN.md section 5). Must not import torch for --list/--version."""

from __future__ import annotations

import argparse
import sys

import coder
import transforms


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m coder", description=coder.__doc__)
    parser.add_argument("--version", action="version", version=f"coder {coder.__version__}")
    parser.add_argument("--list", action="store_true", help="list every transform and whether it can run here")
    return parser


def list_transforms() -> str:
    width = max(len(name) for name in transforms.names())
    lines = []
    for entry in transforms.CATALOG:
        hint = entry.install_hint()
        status = "ready" if hint is None else f"unavailable: {hint}"
        lines.append(f"{entry.name:<{width}}  {entry.description}\n{'':<{width}}  [{status}]")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        print(list_transforms())
        return 0
    build_parser().print_usage(sys.stderr)
    return 2
