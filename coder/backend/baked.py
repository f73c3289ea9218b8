"""What a conversion bakes into its files, hashed without calling the model.

A trace or export runs ``forward`` once and keeps what it read as constants: the weights and
buffers, every Python value an attribute holds (``self.limit = args.limit``), the module-level
values the code reads, the helper functions it calls, the hooks. ``Baked`` walks all of it:

- each module of the model: its class, its parameters and buffers (every byte, ``tensor_digest``),
  the rest of its ``__dict__`` (plain values, containers, objects' own ``__dict__``, functions);
- the code: the script's own classes by everything they define (so ``forward`` and every method
  it may call, class constants), and each function reached, transitively: the names it loads as
  globals (resolved in the function's ``__globals__``: helper functions, module-level values, the
  attributes it reads of the script's own modules), closures, defaults and constants. Code is
  hashed as bytecode (Python's version is in the key), so a script without source files counts
  too. Every method's globals count, not only those ``forward`` reaches: a value that changes
  from run to run there (an output path read in ``__init__``) costs a miss, never a wrong hit;
- hooks, the model's and the global ones (``torch.nn.modules.module._global_*``).

Code and classes of installed libraries and the standard library count by qualified name and
their package's version: they change only when it does. A value the walk cannot hash (an open
file, a lock, an object too deep or too large to walk) counts as a marker that is new in every
process: its entries are then never found again, a miss rather than a wrong hit.
"""

from __future__ import annotations

import dis
import enum
import functools
import hashlib
import secrets
import sys
import sysconfig
import types
import weakref
import zlib
from collections import OrderedDict
from pathlib import Path

import torch

CHUNK_BYTES = 1 << 20  # crc32 per chunk, chained into BLAKE2: every byte counts, at memory speed
MAX_DEPTH = 10  # nesting of values below a module's attribute
MAX_NODES = 200_000  # values walked for one model
RUN_MARKER = secrets.token_hex(16)  # what an unhashable value hashes as: new in every process
PLAIN = (type(None), bool, int, float, complex, str, bytes)
NAMED = (torch.dtype, torch.device, torch.layout, torch.memory_format, torch.qscheme, enum.Enum)
EMPTIABLE = (list, tuple, dict, set, OrderedDict)
GLOBAL_LOADS = {"LOAD_GLOBAL", "LOAD_NAME"}
ATTRIBUTE_LOADS = {"LOAD_ATTR", "LOAD_METHOD", "LOAD_SUPER_ATTR"}
# transformers' GenerationConfig keeps hash(self), which depends on PYTHONHASHSEED; forward never reads it
SKIPPED_ATTRIBUTES = {"_original_object_hash"}
SKIPPED_DUNDERS = {"__dict__", "__weakref__", "__doc__", "__module__", "__qualname__", "__annotations__", "_abc_impl"}


def tensor_digest(tensor: torch.Tensor) -> bytes:
    """dtype, shape and every byte of ``tensor``: one crc32 per MB, chained into BLAKE2."""
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(f"{tensor.dtype}:{tuple(tensor.shape)}:{tensor.layout}".encode())
    if tensor.is_quantized:
        hasher.update(repr((tensor.qscheme(), _quantizer(tensor))).encode())
        tensor = tensor.int_repr()
    data = memoryview(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    for start in range(0, len(data), CHUNK_BYTES):
        hasher.update(zlib.crc32(data[start : start + CHUNK_BYTES]).to_bytes(4, "little"))
    return hasher.digest()


def _quantizer(tensor: torch.Tensor) -> tuple:
    if tensor.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        return tensor.q_scale(), tensor.q_zero_point()
    return (
        tensor_digest(tensor.q_per_channel_scales()),
        tensor_digest(tensor.q_per_channel_zero_points()),
        tensor.q_per_channel_axis(),
    )


@functools.cache
def _library_folders() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(sorted({str(Path(paths[name]).resolve()) for name in ("stdlib", "platstdlib", "purelib", "platlib")}))


def _is_library_module(name: str | None) -> bool:
    """Its file, or its top package's, is installed (or it is built into Python)."""
    if not name or name == "__main__":
        return False
    if name in sys.builtin_module_names:
        return True
    for candidate in (name, name.partition(".")[0]):
        filename = getattr(sys.modules.get(candidate), "__file__", None)
        if filename:
            return _is_library_file(filename)
    return False


@functools.lru_cache(maxsize=4096)
def _is_library_file(filename: str) -> bool:
    """Installed packages and the standard library (their code changes with their version)."""
    if filename.startswith("<frozen"):
        return True
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return any(resolved.startswith(folder + "/") for folder in _library_folders())


def _library_version(module_name: str | None) -> str:
    top = sys.modules.get((module_name or "").partition(".")[0])
    version = getattr(top, "__version__", "")
    return version if isinstance(version, str) else ""


def _qualified(obj) -> str:
    return f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"


class Baked:
    """Walks one model; ``digest()`` is the hash of what it found, ``opaque`` what it could not hash."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.labels: dict[int, str] = {}  # id of a walked object -> its label, for repeats and cycles
        self.kept: list = []  # walked objects stay alive, so their ids are not reused during the walk
        self.opaque: list[str] = []
        self.nodes = 0

    def digest(self) -> str:
        return hashlib.blake2b(b"\0".join(self.parts), digest_size=16).hexdigest()

    def feed(self, *parts) -> None:
        self.parts += [part if isinstance(part, bytes) else str(part).encode() for part in parts]

    def model(self, model: torch.nn.Module) -> Baked:
        named = list(model.named_modules())
        for name, module in named:
            self._label(module, f"module:{name}")
        for name, module in named:
            self.feed("module", name)
            self._module(module, depth=0)
        self._global_hooks()
        return self

    def _label(self, obj, label: str | None = None) -> None:
        self.labels[id(obj)] = label or f"#{len(self.labels)}"
        self.kept.append(obj)

    def _module(self, module: torch.nn.Module, depth: int) -> None:
        if isinstance(module, torch.jit.ScriptModule):
            self._script_module(module, depth)
            return
        self.value(type(module), depth)
        for kind in ("_parameters", "_buffers"):
            for name, tensor in module.__dict__.get(kind, {}).items():
                self.feed(kind, name)
                self.value(tensor, depth + 1)
        for name in sorted(module.__dict__):
            if name not in ("_parameters", "_buffers"):
                self.feed("attribute", name)
                self._attribute(name, module.__dict__[name], depth + 1)

    def _script_module(self, module: torch.jit.ScriptModule, depth: int) -> None:
        """TorchScript keeps its code and attributes in C++: its dump (code, attribute values,
        tensors summarized), then every byte of its parameters and buffers."""
        self.feed("script module", module._c.dump_to_str(True, True, False))
        for name, tensor in module.state_dict(keep_vars=True).items():
            self.feed("state", name)
            self.value(tensor, depth + 1)

    def _attribute(self, name: str, value, depth: int) -> None:
        if name.endswith(("hooks", "hooks_with_kwargs", "hooks_always_called")) and isinstance(value, dict):
            value = list(value.values())  # keyed by handle ids, which count registrations process-wide
        self.value(value, depth)

    def _global_hooks(self) -> None:
        registry = torch.nn.modules.module
        for name in sorted(vars(registry)):
            if name.startswith("_global_") and "hooks" in name and isinstance(vars(registry)[name], dict):
                self.feed("global hooks", name)
                self.value(list(vars(registry)[name].values()), 0)

    def value(self, obj, depth: int) -> None:
        """Feed what ``obj`` is; objects seen before count by their first label."""
        if isinstance(obj, PLAIN):
            self.feed(type(obj).__name__, repr(obj))
            return
        if type(obj) in EMPTIABLE and not obj:  # most hook dicts: nothing to label or walk
            self.feed(type(obj).__name__, 0)
            return
        if id(obj) in self.labels:
            self.feed("ref", self.labels[id(obj)])
            return
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            self._opaque(obj, "too deep or too large to walk")
            return
        self._label(obj)
        self._dispatch(obj, depth)

    def _dispatch(self, obj, depth: int) -> None:
        for kinds, walk in WALKS:
            if isinstance(obj, kinds):
                getattr(self, walk)(obj, depth)
                return
        self._instance(obj, depth)

    def _opaque(self, obj, why: str) -> None:
        self.opaque.append(f"{type(obj).__qualname__} ({why})")
        self.feed("opaque", RUN_MARKER)

    def _tensor(self, tensor: torch.Tensor, depth: int) -> None:
        try:
            self.feed("tensor", type(tensor).__qualname__, tensor_digest(tensor))
        except Exception:  # a meta, sparse or otherwise unreadable tensor
            self._opaque(tensor, "tensor without readable data")

    def _named(self, obj, depth: int) -> None:
        self.feed(_qualified(type(obj)), str(obj))

    def _sequence(self, items, depth: int) -> None:
        self.feed(_qualified(type(items)), len(items))
        for item in items:
            self.value(item, depth + 1)

    def _mapping(self, mapping: dict, depth: int) -> None:
        self.feed(_qualified(type(mapping)), len(mapping))
        for key, item in list(mapping.items()):
            self.value(key, depth + 1)
            self.value(item, depth + 1)

    def _set(self, items, depth: int) -> None:
        """Iteration order depends on PYTHONHASHSEED: each item is hashed apart, then sorted."""
        digests = []
        for item in items:
            alone = Baked()
            alone.nodes = self.nodes
            alone.value(item, depth + 1)
            self.opaque, self.nodes = self.opaque + alone.opaque, alone.nodes
            digests.append(alone.digest())
        self.feed(_qualified(type(items)), *sorted(digests))

    def _builtin(self, function, depth: int) -> None:
        owner = getattr(function, "__self__", None)
        self.feed("builtin", _qualified(function))
        if owner is not None and not isinstance(owner, (types.ModuleType, type)):
            self.value(owner, depth + 1)

    def _python_module(self, module: types.ModuleType, depth: int) -> None:
        self.feed("python module", module.__name__)

    def _weak(self, reference: weakref.ref, depth: int) -> None:
        self.feed("weakref")
        self.value(reference(), depth + 1)

    def _property(self, prop: property, depth: int) -> None:
        self.feed("property")
        for accessor in (prop.fget, prop.fset, prop.fdel):
            self.value(accessor, depth + 1)

    def _wrapped_function(self, wrapper, depth: int) -> None:
        self.feed(type(wrapper).__name__)
        self.value(wrapper.__func__, depth + 1)

    def _method(self, method: types.MethodType, depth: int) -> None:
        self.feed("method")
        self.value(method.__func__, depth + 1)
        self.value(method.__self__, depth + 1)

    def _partial(self, partial: functools.partial, depth: int) -> None:
        self.feed("partial")
        for part in (partial.func, partial.args, partial.keywords):
            self.value(part, depth + 1)

    def _class(self, cls: type, depth: int) -> None:
        """A library's class by name and version; the script's own, by everything it defines."""
        self.feed("class", _qualified(cls))
        if _is_library_module(cls.__module__):
            self.feed(_library_version(cls.__module__))
            return
        for base in cls.__bases__:
            self.value(base, depth + 1)
        for name in sorted(vars(cls)):
            if name not in SKIPPED_DUNDERS:
                self.feed("class attribute", name)
                self.value(vars(cls)[name], depth + 1)

    def _function(self, function: types.FunctionType, depth: int) -> None:
        code = function.__code__
        self.feed("function", _qualified(function))
        if _is_library_file(code.co_filename):  # its code comes with its version; a closure with the caller
            self.feed(_library_version(function.__module__))
            self.value(_cell_contents(function), depth + 1)
            return
        self._code(code, function.__globals__, depth)
        for part in (function.__defaults__, function.__kwdefaults__, _cell_contents(function), vars(function)):
            self.value(part, depth + 1)

    def _code_alone(self, code: types.CodeType, depth: int) -> None:
        self._code(code, {}, depth)

    def _code(self, code: types.CodeType, global_values: dict, depth: int) -> None:
        """Bytecode and constants (nested functions' code too), then the globals it loads."""
        self._bytecode(code, depth)
        globals_loaded, attributes = _names_loaded(code)
        for name in globals_loaded:
            if name in global_values:
                self.feed("global", name)
                self._global(global_values[name], attributes, depth + 1)

    def _bytecode(self, code: types.CodeType, depth: int) -> None:
        self.feed(
            "code",
            code.co_code,
            code.co_names,
            code.co_varnames,
            code.co_freevars,
            code.co_cellvars,
            code.co_argcount,
            code.co_kwonlyargcount,
            code.co_flags,
        )
        for constant in code.co_consts:
            if isinstance(constant, types.CodeType):
                self._bytecode(constant, depth)
            else:
                self.value(constant, depth + 1)

    def _global(self, value, attributes: tuple[str, ...], depth: int) -> None:
        """A global value; for a module of the script's own, the attributes the code reads of it."""
        self.value(value, depth)
        if isinstance(value, types.ModuleType) and not _is_library_module(value.__name__):
            for name in attributes:
                if name in vars(value):
                    self.feed("module attribute", name)
                    self.value(vars(value)[name], depth + 1)

    def _array(self, array, depth: int) -> None:
        self.feed("array", _qualified(type(array)), array.dtype, getattr(array, "shape", ()))
        if getattr(array.dtype, "hasobject", False):
            self.value(array.tolist(), depth + 1)
        else:
            self.feed(zlib.crc32(array.tobytes()))

    def _instance(self, obj, depth: int) -> None:
        """Any other object: its class, then its own ``__dict__`` and ``__slots__`` values."""
        if hasattr(obj, "tobytes") and hasattr(obj, "dtype"):  # numpy arrays and scalars
            self._array(obj, depth)
            return
        state, slots = getattr(obj, "__dict__", None), _slots(obj)
        if not isinstance(state, dict) and not slots:
            self._opaque(obj, "no readable state")
            return
        self.value(type(obj), depth + 1)
        for name in sorted(set(state or {}) - SKIPPED_ATTRIBUTES):
            self.feed("attribute", name)
            self.value(state[name], depth + 1)
        for name in slots:
            self.feed("slot", name)
            self.value(getattr(obj, name), depth + 1)


WALKS = (
    (torch.Tensor, "_tensor"),
    ((list, tuple), "_sequence"),
    ((dict, types.MappingProxyType), "_mapping"),
    (NAMED, "_named"),
    (torch.nn.Module, "_module"),
    ((set, frozenset), "_set"),
    (types.FunctionType, "_function"),
    (types.MethodType, "_method"),
    (functools.partial, "_partial"),
    (types.ModuleType, "_python_module"),
    (type, "_class"),
    ((staticmethod, classmethod), "_wrapped_function"),
    (property, "_property"),
    (weakref.ref, "_weak"),
    (types.CodeType, "_code_alone"),
)
_BUILTINS = (
    types.BuiltinFunctionType,
    types.BuiltinMethodType,
    types.WrapperDescriptorType,
    types.MethodWrapperType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
)
WALKS += ((_BUILTINS, "_builtin"),)


def _slots(obj) -> list[str]:
    names = []
    for cls in type(obj).__mro__:
        declared = getattr(cls, "__slots__", ())
        names += [declared] if isinstance(declared, str) else list(declared)
    return [name for name in names if not name.startswith("__") and hasattr(obj, name)]


def _cell_contents(function: types.FunctionType) -> tuple:
    contents = []
    for cell in function.__closure__ or ():
        try:
            contents.append(cell.cell_contents)
        except ValueError:  # a cell not filled yet
            contents.append("<empty cell>")
    return tuple(contents)


@functools.lru_cache(maxsize=4096)
def _names_loaded(code: types.CodeType) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The global names and the attribute names ``code`` loads (nested code included)."""
    globals_loaded, attributes = [], []
    for instruction in dis.get_instructions(code):
        if instruction.opname in GLOBAL_LOADS:
            globals_loaded.append(instruction.argval)
        elif instruction.opname in ATTRIBUTE_LOADS:
            attributes.append(instruction.argval)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            nested = _names_loaded(constant)
            globals_loaded += nested[0]
            attributes += nested[1]
    return tuple(dict.fromkeys(globals_loaded)), tuple(dict.fromkeys(attributes))
