"""Command line (DESIGN.md section 5), on click. --diff, --emit, --inspect and --list never import torch.

``python -m coder [OPTIONS] SCRIPT [ARGS]...``: click stops reading options at SCRIPT, so every
word after it is the script's, untouched. A first word naming a subcommand of SUBCOMMANDS
(``python -m coder NAME ...``) runs that command instead.

Adding an option of ``-o auto``: one ``auto_option(...)`` in AUTO_OPTIONS; its value reaches
``coder.auto.run`` in ``options`` under its name, and it is refused with any other ``-o``.
Adding another option: one ``click.option(...)`` in OPTIONS and its parameter in
``script_command``. Adding a subcommand: ``@SUBCOMMANDS.command()`` on a click command; ``python
-m coder --help`` lists it.
"""

from __future__ import annotations

import json
import os
import sys

import click
from click.core import ParameterSource

import coder
from coder import settings, transforms

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
PROG = "python -m coder"
EXAMPLES = """\b
examples:
  python -m coder --list
  python -m coder -o nano_jit_bf16_ipex --diff script.py
  python -m coder -o nano_jit_bf16_ipex --emit patched.py script.py
  python -m coder -o nano_jit_bf16_ipex script.py --batch-size 8   (arguments after SCRIPT are the script's)
  python -m coder -o auto script.py
  python -m coder -o nano_int8 --max-drop 0.01 script.py   (at most 1% less top-1 agreement with the original)
  python -m coder -o auto --calls 50 --json auto.json --apply script.py
  python -m coder --inspect script.py --json
  python -m coder cache list   (converted models kept for the next runs; cache clear empties it)"""

SUBCOMMANDS = click.Group("commands", help="coder's commands other than running a script")


def max_drop_value(ctx, param, value: str | None) -> float | None:
    from coder.backend.accuracy import bad_max_drop

    if value is None:
        return None
    problem = bad_max_drop(value)
    if problem:
        raise click.BadParameter(problem, param_hint="--max-drop")
    return float(value)


def comma_separated(ctx, param, value: str | None) -> list[str] | None:
    return [name.strip() for name in value.split(",") if name.strip()] if value else None


OPTIONS = (
    click.option("-o", "transform", metavar="NAME", help="Transform to apply (see --list), or auto."),
    click.option("--diff", is_flag=True, help="Print the patched script as a unified diff and stop."),
    click.option("--emit", metavar="PATH", help="Write the patched script to PATH (- for stdout) and stop."),
    click.option(
        "--keep-existing",
        is_flag=True,
        help="Leave a model the script already optimizes (ipex, torch.jit, torch.compile) as it is.",
    ),
    click.option(
        "--inspect",
        "inspect_path",
        metavar="SCRIPT",
        help="Show the models, ready points, inference sites and loaders of SCRIPT.",
    ),
    click.option("--list", "list_all", is_flag=True, help="List every transform and whether it can run here."),
    click.option(
        "--max-drop",
        metavar="DROP",
        callback=max_drop_value,
        help="The accuracy a transform may lose against the original model on the script's own inputs, "
        "0 to 1: top-1 agreement for classifier-like (2-D logits) outputs, relative error otherwise; "
        "a transform that loses more is not used (INT8 is re-tuned once first). "
        "E.g. -o nano_int8 --max-drop 0.01 script.py; with -o auto such rows are never the best.",
    ),
    click.option(
        "--json",
        "json_out",
        is_flag=False,
        flag_value="",
        default=None,
        metavar="[FILE]",
        help="With --inspect or --list: print JSON. With -o auto: write the results to FILE.",
    ),
)


class AutoOption(click.Option):
    """An option of -o auto only: given with another -o, it is a usage error."""


def auto_option(*declarations, **attributes):
    return click.option(*declarations, cls=AutoOption, **attributes)


AUTO_OPTIONS = (
    auto_option(
        "--only",
        metavar="NAMES",
        callback=comma_separated,
        help="-o auto: comma-separated transforms to try (the original is always added).",
    ),
    auto_option(
        "--exclude", metavar="NAMES", callback=comma_separated, help="-o auto: comma-separated transforms to skip."
    ),
    auto_option(
        "--calls",
        type=click.IntRange(min=1),
        metavar="N",
        help="-o auto: timed calls of the model per method (default 20).",
    ),
    auto_option(
        "--budget",
        type=click.FloatRange(min=0, min_open=True),
        metavar="SECONDS",
        help="-o auto: time for the timed calls per method, at least 5 calls (default 10).",
    ),
    auto_option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        metavar="SECONDS",
        help="-o auto: time limit of each run (default 300).",
    ),
    auto_option("--plot", metavar="FILE.png", help="-o auto: save a bar chart of the latencies."),
    auto_option("--verbose", "-v", is_flag=True, help="-o auto: every column and the full status texts."),
    auto_option("--apply", is_flag=True, help="-o auto: then run the script with the best transform."),
    auto_option("--emit-best", metavar="PATH", help="-o auto: write the script patched with the best transform."),
)


def with_options(options):
    def decorate(function):
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


class ScriptCommand(click.Command):
    """The script command; its help also lists the subcommands, when there are any."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        commands = [(name, command.get_short_help_str()) for name, command in SUBCOMMANDS.commands.items()]
        if commands:
            with formatter.section(f"Commands ({PROG} COMMAND --help)"):
                formatter.write_dl(commands)


@click.command(
    cls=ScriptCommand,
    help=coder.__doc__,
    epilog=EXAMPLES,
    context_settings={"allow_interspersed_args": False, "help_option_names": ["-h", "--help"]},
)
@with_options(OPTIONS)
@with_options(AUTO_OPTIONS)
@click.version_option(coder.__version__, prog_name="coder", message="%(prog)s %(version)s")
@click.argument("script", required=False)
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED, metavar="[ARGS]...")
@click.pass_context
def script_command(
    ctx: click.Context,
    transform,
    diff,
    emit,
    keep_existing,
    inspect_path,
    list_all,
    max_drop,
    json_out,
    script,
    script_args,
    **auto_options,
) -> int:
    if list_all:
        print(list_transforms(as_json=json_out is not None))
        return 0
    if inspect_path:
        from coder.commands import inspect_script

        return inspect_script(inspect_path, as_json=json_out is not None)
    if not transform:
        raise click.UsageError("say what to do: -o NAME SCRIPT, --inspect SCRIPT or --list")
    if not script:
        raise click.UsageError(f"-o {transform} needs a SCRIPT")
    if transform == "auto":
        with_drop = {"max_drop": max_drop} if max_drop is not None else {}
        return run_auto(script, list(script_args), {**auto_options, "json": auto_json_file(json_out), **with_drop})
    refuse_auto_only_options(ctx)
    if max_drop is not None:  # the patched script's runtime reads it (coder/backend/accuracy.py)
        from coder.backend.accuracy import ENVIRONMENT

        os.environ[ENVIRONMENT] = repr(max_drop)
    from coder.commands import patch_script

    return patch_script(transform, script, list(script_args), diff=diff, emit=emit, keep_existing=keep_existing)


def auto_json_file(value: str | None) -> str | None:
    if value == "":
        raise click.UsageError("-o auto --json needs a FILE to write the results to")
    return value


def refuse_auto_only_options(ctx: click.Context) -> None:
    for option in ctx.command.params:
        if isinstance(option, AutoOption) and ctx.get_parameter_source(option.name) == ParameterSource.COMMANDLINE:
            raise click.UsageError(f"{option.opts[0]} goes with -o auto")


def run_auto(script: str, script_args: list[str], options: dict) -> int:
    try:
        from coder import auto
    except ImportError as error:
        print(f"coder: -o auto is not available here ({error})", file=sys.stderr)
        return EXIT_USAGE
    return auto.run(script, script_args, options)


@SUBCOMMANDS.command(
    "cache",
    help="List the conversion cache (converted models kept for the next runs), or clear it.",
    short_help="list or clear the conversion cache",
)
@click.argument("action", type=click.Choice(["list", "clear"]))
def cache_command(action: str) -> int:
    from coder.backend.cache_command import run

    return run(action)


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    settings.current()  # a bad CODER_* value is said here, before any output of the script
    subcommand = SUBCOMMANDS.commands.get(words[0]) if words else None
    if subcommand is not None:
        return invoke(subcommand, words[1:], f"{PROG} {words[0]}")
    return invoke(script_command, words, PROG)


def invoke(command: click.Command, words: list[str], prog: str) -> int:
    """Run a click command; its errors are one line on stderr and an exit code."""
    try:
        code = command.main(words, prog_name=prog, standalone_mode=False)
    except click.UsageError as error:
        print(f"coder: {error.format_message()} (see {prog} --help)", file=sys.stderr)
        return EXIT_USAGE
    except click.ClickException as error:
        print(f"coder: {error.format_message()}", file=sys.stderr)
        return error.exit_code
    except transforms.UnknownTransform as error:
        print(f"coder: {error}", file=sys.stderr)
        return EXIT_USAGE
    except click.Abort:
        return EXIT_INTERRUPTED
    return code if isinstance(code, int) else 0


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
        lines.append(f"{entry.name:<{width}}  {entry.description}\n{'':<{width}}  [{_status_text(status, cpu)}]")
    return "\n".join(lines)


def _status_text(status: dict, cpu) -> str:
    verdict, reason = status["verdict"], status["reason"]
    if verdict == "unsupported":
        return f"unsupported on this CPU: {reason}"
    here = "native on this CPU" if verdict == "native" else f"emulated on this CPU: {reason}"
    if status["install"] is None:
        return f"ready, {here}"
    alternative = transforms.alternative(transforms.get(status["name"]), cpu)
    instead = f"; nearest available here: {alternative}" if alternative else ""
    return f"unavailable: {status['install']}{instead}; {here}"
