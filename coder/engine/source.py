"""The script as text: syntax checks, the top-level statements worth parsing, splicing edits back.

Only the top-level statements that can matter are handed to LibCST (its parse and metadata cost
grows with the whole file); every other byte of the script is kept exactly as it was.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

LINE = re.compile(r"[^\n]*\n|[^\n]+$")

MODEL_MODULES = ("torchvision", "timm", "transformers")


class ScriptError(ValueError):
    """Bad input: the message is the one line the user sees (without the file name)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column

    def located(self, filename: str) -> str:
        if self.line is None:
            return f"{filename}: {self.message}"
        return f"{filename}:{self.line}:{self.column}: {self.message}"


@dataclass(frozen=True)
class Chunk:
    """Lines ``first..last`` (1-based, inclusive) holding one or more top-level statements."""

    first: int
    last: int


def split_lines(source: str) -> list[str]:
    """Lines with their endings, split only where Python itself sees a new line."""
    return LINE.findall(source)


def check_syntax(source: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as error:
        raise ScriptError(error.msg, error.lineno or 1, error.offset or 1) from None
    except ValueError as error:  # e.g. "source code string cannot contain null bytes"
        raise ScriptError(str(error)) from None


def statement_chunks(tree: ast.Module) -> list[tuple[Chunk, ast.stmt]]:
    """One chunk per top-level statement; statements sharing a line share a chunk."""
    chunks: list[tuple[Chunk, ast.stmt]] = []
    for node in tree.body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        if chunks and first <= chunks[-1][0].last:
            first = chunks.pop()[0].first
        chunks.append((Chunk(first, node.end_lineno or node.lineno), node))
    return chunks


def relevant_chunks(tree: ast.Module, lines: list[str]) -> list[Chunk]:
    """Chunks that can matter: every statement but the function and class definitions that are
    neither about models (see SEED_WORDS) nor connected by name to a statement that is kept."""
    chunks = statement_chunks(tree)
    words = {c: set(WORD.findall("".join(lines[c.first - 1:c.last]))) for c, _ in chunks}
    defined = {n.name: c for c, n in chunks if isinstance(n, DEFINITIONS)}
    seeds = SEED_WORDS | _bound_to_model_modules(tree)
    kept = [c for c, n in chunks if not isinstance(n, DEFINITIONS) or words[c] & seeds]
    _close_over_names(kept, words, defined)
    keep = set(kept)
    return [c for c, _ in chunks if c in keep]


WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# Words that put a definition on the model's path: building, preparing, running or training it.
SEED_WORDS = {
    "from_pretrained", "from_config", "create_model", "pipeline", "load", "Module", "Sequential",
    "DataLoader", "no_grad", "inference_mode", "autocast", "set_grad_enabled", "InferenceOptimizer",
    "jit", "compile", "optimize", "export", "quantize_dynamic", "backward", "step", "zero_grad",
    "train", "eval", "generate", "forward", "__dict__", "getattr", "PreTrainedModel",
}


def _close_over_names(kept: list[Chunk], words: dict, defined: dict[str, Chunk]) -> None:
    """Keep the definitions a kept statement mentions, and those that mention a kept definition."""
    mentioning: dict[str, list[Chunk]] = {}
    for chunk, found in words.items():
        for word in found & defined.keys():
            mentioning.setdefault(word, []).append(chunk)
    names_of = {chunk: name for name, chunk in defined.items()}
    seen, pending = set(kept), list(kept)
    while pending:
        chunk = pending.pop()
        callees = [defined[w] for w in words[chunk] & defined.keys()]
        callers = mentioning.get(names_of.get(chunk, ""), [])
        for other in callees + callers:
            if other not in seen:
                seen.add(other)
                kept.append(other)
                pending.append(other)


def _bound_to_model_modules(tree: ast.Module) -> set[str]:
    """Names bound by imports from the libraries that build models (aliases included)."""
    aliases = set()
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            aliases |= {(a.asname or a.name).split(".")[0] for a in node.names
                        if a.name.split(".")[0] in MODEL_MODULES}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in MODEL_MODULES:
            aliases |= {a.asname or a.name for a in node.names}
    return aliases


def _statements(body: list[ast.stmt]):
    """Every statement, nested ones included, without walking into expressions."""
    for node in body:
        yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            yield from _statements(getattr(node, field, None) or [])


class Reduced:
    """The relevant chunks joined into one small source, with the map back to script lines."""

    def __init__(self, lines: list[str], chunks: list[Chunk]) -> None:
        self.chunks = chunks
        self.line_map: list[int] = []
        parts = []
        for chunk in chunks:
            text = "".join(lines[chunk.first - 1:chunk.last])
            parts.append(text if text.endswith("\n") else text + "\n")
            self.line_map.extend(range(chunk.first, chunk.last + 1))
        self.text = "".join(parts)

    def script_line(self, reduced_line: int) -> int:
        return self.line_map[reduced_line - 1]


def splice(lines: list[str], replacements: dict[Chunk, str], insertions: dict[int, str]) -> str:
    """Replace whole chunks and insert text after given lines (0 = before the first line)."""
    out = list(lines)
    edits = [(c.first, c.last, text) for c, text in replacements.items()]
    edits += [(after + 1, after, text) for after, text in insertions.items()]
    for first, last, text in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        if last >= first and not out[last - 1].endswith("\n"):
            text = text.removesuffix("\n")
        out[first - 1:last] = [text]
    return "".join(out)
