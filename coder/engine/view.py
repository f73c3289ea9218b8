"""Which top-level statements detection reads: the view of the tree that metadata is resolved on.

Resolving scopes, qualified names, parents and positions on a whole 2,000-line script takes
1.6 s; most of such a script is definitions that never touch a model. In the view, a run of
definitions that cannot matter is one placeholder spanning as many lines (so positions stay the
script's); every other statement is the tree's own node. The view decides what is analysed,
never what is written: the transform rewrites the whole tree.

A definition can matter when it mentions a word about building, preparing, running or training
a model (SEED_WORDS, the model libraries, and the names imported from any module that is neither
the standard library nor a library known to build no models), or is connected by name to a
statement that is read.
"""

from __future__ import annotations

import re
import sys

import libcst as cst
from libcst.helpers import get_full_name_for_node

from coder.engine.injected import OPTIMIZER

MODEL_MODULES = ("torchvision", "timm", "transformers")
# modules whose names say nothing about a model (torch's own builders are seed words)
NO_MODEL_MODULES = {
    "torch",
    "numpy",
    "np",
    "PIL",
    "cv2",
    "matplotlib",
    "pandas",
    "tqdm",
    "scipy",
    "yaml",
    "requests",
    "click",
    "rich",
    "absl",
    *sys.stdlib_module_names,
}
SEED_WORDS = {
    "from_pretrained",
    "from_config",
    "create_model",
    "pipeline",
    "load",
    "Module",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "LightningModule",
    "DataLoader",
    "no_grad",
    "inference_mode",
    "autocast",
    "set_grad_enabled",
    OPTIMIZER,
    "jit",
    "compile",
    "optimize",
    "export",
    "quantize_dynamic",
    "backward",
    "step",
    "zero_grad",
    "train",
    "eval",
    "generate",
    "forward",
    "__dict__",
    "getattr",
    "PreTrainedModel",
    "load_state_dict",
    "parameters",
    "cuda",
    "to",
    "Linear",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "LSTM",
    "GRU",
    "RNN",
    "Embedding",
    "Transformer",
    "TransformerEncoder",
    "Thread",
    *MODEL_MODULES,
}
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NEWLINE = re.compile(r"\r\n?|\n")  # what Python and LibCST count as a line break (not \f)
DEFINITIONS = (cst.FunctionDef, cst.ClassDef)
BLOCKS = (
    cst.BaseCompoundStatement,
    cst.BaseSuite,
    cst.Else,
    cst.ExceptHandler,
    cst.ExceptStarHandler,
    cst.Finally,
    cst.MatchCase,
)
STATEMENTS = (cst.SimpleStatementLine, *BLOCKS)


def analysis_view(module: cst.Module, known: dict[cst.CSTNode, str]) -> cst.Module:
    """``module`` with each run of definitions that cannot matter replaced by one placeholder
    statement spanning as many lines (``known``: the code of each top-level statement)."""
    codes = [known[statement] for statement in module.body]
    body, blank_lines = [], 0
    for statement, code, read in zip(module.body, codes, _statements_read(module, codes)):
        if read:
            body += [_placeholder(blank_lines)] if blank_lines else []
            body.append(statement)
            blank_lines = 0
        else:
            blank_lines += len(NEWLINE.findall(code))
    body += [_placeholder(blank_lines)] if blank_lines else []
    return module.with_changes(body=body)


def _placeholder(lines: int) -> cst.SimpleStatementLine:
    """A statement of ``lines`` lines and a handful of nodes: a string holding the line breaks."""
    return cst.SimpleStatementLine([cst.Expr(cst.SimpleString('"""' + "\n" * (lines - 1) + '"""'))])


def _statements_read(module: cst.Module, codes: list[str]) -> list[bool]:
    """For each top-level statement, whether detection reads it."""
    words = [set(WORD.findall(code)) for code in codes]
    defined = {s.name.value: i for i, s in enumerate(module.body) if isinstance(s, DEFINITIONS)}
    seeds = SEED_WORDS | _names_from_model_modules(module)
    read = {i for i, s in enumerate(module.body) if not isinstance(s, DEFINITIONS) or words[i] & seeds}
    _add_connected(read, words, defined)
    return [i in read for i in range(len(module.body))]


def _add_connected(read: set[int], words: list[set[str]], defined: dict[str, int]) -> None:
    """Add the definitions a read statement mentions, and the statements that mention a read definition."""
    mentioning: dict[str, list[int]] = {}
    for index, found in enumerate(words):
        for word in sorted(found & defined.keys()):
            mentioning.setdefault(word, []).append(index)
    name_of = {index: name for name, index in defined.items()}
    pending = sorted(read)
    while pending:
        index = pending.pop()
        callees = [defined[w] for w in sorted(words[index] & defined.keys())]
        for other in callees + mentioning.get(name_of.get(index, ""), []):
            if other not in read:
                read.add(other)
                pending.append(other)


def _names_from_model_modules(module: cst.Module) -> set[str]:
    """Names that imports outside definitions bind from modules that may build a model (aliases
    included); a definition importing one mentions the module's name, a seed word itself."""
    names: set[str] = set()
    for node in _statements_outside_definitions(module.body):
        if isinstance(node, cst.Import):
            names |= {_bound_name(a).split(".")[0] for a in node.names if _may_build_models(a.name)}
        elif isinstance(node, cst.ImportFrom) and _may_build_models(node.module):
            if not isinstance(node.names, cst.ImportStar):
                names |= {_bound_name(a) for a in node.names}
    return names


def _may_build_models(module: cst.BaseExpression | None) -> bool:
    """A model library, the script's own modules, a third-party package: not the standard library
    or the libraries in NO_MODEL_MODULES (``from . import x`` has no module: the script's own)."""
    return module is None or _top_module(module) not in NO_MODEL_MODULES


def _statements_outside_definitions(nodes):
    """Small statements of ``nodes`` and of the blocks of their if/try/with/for/while (not of defs),
    found without walking into expressions, which make up most of a script's nodes."""
    for node in nodes:
        if isinstance(node, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            yield from node.body
        elif isinstance(node, BLOCKS) and not isinstance(node, DEFINITIONS):
            yield from _statements_outside_definitions(c for c in node.children if isinstance(c, STATEMENTS))


def _bound_name(alias: cst.ImportAlias) -> str:
    return alias.evaluated_alias or alias.evaluated_name


def _top_module(name: cst.BaseExpression) -> str:
    return get_full_name_for_node(name).split(".")[0]
