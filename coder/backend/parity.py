"""Is the accelerated output close enough to the original's? One number per precision.

The error of one output tensor is ``||accelerated - original|| / ||original||`` (relative L2,
so it does not depend on the scale of the logits); a call passes when every output tensor is
within the tolerance of its precision. Integer and boolean outputs must match exactly.
"""

from __future__ import annotations

import math

import torch

# Relative L2 error allowed on the first calls, per precision. fp32 runtimes reorder sums
# (~1e-6); bf16 keeps 8 mantissa bits (~1e-2 after a deep net); static INT8 on a random-weight
# model measured 0.02-0.08 here. A model whose INT8 output is unrelated to fp32 scores ~1.0.
TOLERANCE = {"fp32": 1e-3, "bf16": 5e-2, "int8": 0.25}


def relative_error(accelerated: torch.Tensor, original: torch.Tensor) -> float:
    if not (original.is_floating_point() or original.is_complex()):
        return 0.0 if torch.equal(accelerated.to(original.dtype), original) else math.inf
    got, want = accelerated.detach().double(), original.detach().double()
    if got.shape != want.shape or not torch.isfinite(got).all():
        return math.inf
    scale = want.norm().item()
    diff = (got - want).norm().item()
    return diff / scale if scale > 0 else diff


def worst_error(accelerated: list[torch.Tensor], original: list[torch.Tensor]) -> float:
    if len(accelerated) != len(original):
        return math.inf
    return max((relative_error(a, o) for a, o in zip(accelerated, original)), default=0.0)


def difference(produced: list, reference, tolerance: float, spec=None, criterion=None) -> str | None:
    """Why ``produced`` (a runtime's flat outputs) cannot stand for ``reference`` (the original
    model's output on the same call), or None when it can. ``spec``: the output structure the
    runtime was built for; the reference must still have it: same types, keys and lengths,
    same dtypes. Then every tensor must have its shape and be within ``tolerance``, or meet
    ``criterion`` (``--max-drop``: accuracy.MaxDrop) instead when one is given."""
    from coder.backend.flat import NotConvertible, flatten_output

    try:
        reference_spec, expected = flatten_output(reference)
    except NotConvertible as error:
        return f"the original's output changed: {error}"
    if spec is not None and (spec.treespec != reference_spec.treespec or spec.dtypes != reference_spec.dtypes):
        return (
            f"output structure differs from the original's ({outline(spec.treespec)} where the original "
            f"gives {outline(reference_spec.treespec)})"
        )
    if len(produced) != len(expected):
        return f"output has {len(produced)} tensors where the original's has {len(expected)}"
    return _value_difference([_as_tensor(t) for t in produced], expected, reference, tolerance, criterion)


def _value_difference(
    got: list[torch.Tensor], expected: list[torch.Tensor], reference, tolerance: float, criterion=None
) -> str | None:
    paths = _leaf_paths(reference)
    for path, a, o in zip(paths, got, expected):
        if a.shape != o.shape:
            return f"output{path} has shape {list(a.shape)} where the original's has {list(o.shape)}"
    if criterion is not None:
        return criterion.judge(got, expected, paths)
    errors = [relative_error(a, o) for a, o in zip(got, expected)]
    worst = max(range(len(errors)), key=errors.__getitem__, default=None)
    if worst is None or errors[worst] <= tolerance:
        return None
    where = f" in output{paths[worst]}" if len(errors) > 1 else ""
    return f"output differs from the original model (relative error {errors[worst]:.3g} > {tolerance:g}{where})"


def _as_tensor(value) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.from_numpy(value)


def _leaf_paths(output) -> list[str]:
    import torch.utils._pytree as pytree

    return [pytree.keystr(path) for path, _ in pytree.tree_flatten_with_path(output)[0]]


def outline(treespec) -> str:
    """A short description of an output structure: ``list of 2 dict(boxes, labels, scores)``."""
    if treespec.is_leaf():
        return "tensor"
    kind = getattr(treespec.type, "__name__", str(treespec.type))
    children = [outline(child) for child in _children(treespec)]
    if treespec.type is dict or (
        isinstance(treespec.context, list)
        and treespec.context
        and all(isinstance(key, str) for key in treespec.context)
    ):
        return f"{kind}({', '.join(str(key) for key in treespec.context)})"
    if not children:
        return f"empty {kind}"
    return f"{kind} of {len(children)} {children[0]}" if len(set(children)) == 1 else f"{kind}({', '.join(children)})"


def _children(treespec) -> list:
    return treespec.children() if hasattr(treespec, "children") else treespec.children_specs  # torch < 2.10
