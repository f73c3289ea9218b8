"""The script as text: syntax checks, the top-level statements worth parsing, splicing edits back.

Only the top-level statements that can matter are handed to LibCST (its parse and metadata cost
grows with the whole file); every other byte of the script is kept exactly as it was.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

LINE = re.compile(r"[^\n]*\n|[^\n]+$")

# Top-level functions and classes are kept when they mention one of these, or are connected to
# a kept statement by name: everything else cannot build, prepare or call a model.
ROOT_MODULES = ("torch", "torchvision", "timm", "transformers", "intel_extension_for_pytorch", "coder")


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


def relevant_chunks(tree: ast.Module) -> list[Chunk]:
    """Chunks that can matter: every statement except unrelated function and class definitions."""
    chunks = statement_chunks(tree)
    roots = _root_aliases(tree)
    definitions = {c: _identifiers(n) for c, n in chunks if isinstance(n, DEFINITIONS)}
    kept = {c for c, n in chunks if not isinstance(n, DEFINITIONS)}
    kept |= {c for c, names in definitions.items() if names & roots}
    names_of = {c: {n.name} for c, n in chunks if isinstance(n, DEFINITIONS)}
    _close_over_names(kept, definitions, names_of, {c: _identifiers(n) for c, n in chunks})
    return [c for c, _ in chunks if c in kept]


DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _close_over_names(kept: set, definitions: dict, names_of: dict, identifiers: dict) -> None:
    """Keep every definition a kept statement mentions, and every one that mentions a kept one."""
    changed = True
    while changed:
        mentioned = set().union(*(identifiers[c] for c in kept)) if kept else set()
        defined = set().union(*(names_of.get(c, set()) for c in kept)) if kept else set()
        grown = {c for c, names in definitions.items()
                 if c not in kept and (names_of[c] & mentioned or names & defined)}
        kept |= grown
        changed = bool(grown)


def _identifiers(node: ast.AST) -> set[str]:
    found = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
    return found


def _root_aliases(tree: ast.Module) -> set[str]:
    """Names that modules of the PyTorch world are bound to, anywhere in the script."""
    aliases = {"InferenceOptimizer"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases |= {(a.asname or a.name).split(".")[0] for a in node.names
                        if a.name.split(".")[0] in ROOT_MODULES}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ROOT_MODULES:
            aliases |= {a.asname or a.name for a in node.names}
    return aliases


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
