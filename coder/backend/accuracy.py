"""No-code accuracy control: ``python -m coder -o NAME --max-drop 0.01 SCRIPT``.

The reference is the original model's own output on the script's own inputs, on the calls the
runtime checks anyway (wrapper.py: the first calls, new shapes). With a max drop set
(``CODER_MAX_DROP``, which the CLI sets), it replaces the precision's tolerance as the value
criterion of that check: a classifier-like output (2-D float logits, more than one class) may
lose at most that share of top-1 agreement with the original on the call's samples; any other
float output may have at most that relative L2 error. Structure, shapes and integer outputs are
checked as always (parity.py). A batch of several samples that the original puts all in one
class says nothing of top-1 accuracy (random weights do that: the bundled example's resnet18
gives every image class 238), so its relative error is judged instead.

No torch import at module level: the CLI validates the value with ``bad_max_drop``.
"""

from __future__ import annotations

from dataclasses import dataclass

from coder import settings

ENVIRONMENT = "CODER_MAX_DROP"


def bad_max_drop(text: str) -> str | None:
    """Why ``text`` is not a max drop (a number from 0 to 1), or None when it is."""
    try:
        value = float(text)
    except ValueError:
        return f"{text!r} is not a number"
    if not 0 <= value <= 1:  # also NaN
        return f"{text} is not between 0 and 1 (0.01 allows 1% less top-1 agreement, or 1% relative error)"
    return None


def max_drop() -> float | None:
    """The max drop set for this process, or None (the precision's tolerance then applies)."""
    return settings.current().max_drop


def is_classifier_like(tensor) -> bool:
    return tensor.is_floating_point() and tensor.dim() == 2 and tensor.shape[-1] > 1


def says_top1(tensor) -> bool:
    """Classifier-like, and its top-1 tells samples apart (or there is one sample)."""
    if not is_classifier_like(tensor):
        return False
    classes = tensor.argmax(-1)
    return len(classes) == 1 or not bool((classes == classes[0]).all())


def top1_drop(got, want) -> float:
    agree = got.reshape(want.shape).argmax(-1) == want.argmax(-1)
    return 1.0 - agree.double().mean().item()


@dataclass(frozen=True)
class MaxDrop:
    """The value criterion of the parity check under ``--max-drop``."""

    limit: float

    def judge(self, got: list, expected: list, paths: list[str]) -> str | None:
        import torch

        from coder.backend.parity import relative_error

        for path, a, o in zip(paths, got, expected):
            where = f" in output{path}" if len(expected) > 1 else ""
            if not says_top1(o):
                error = relative_error(a, o)
                if error > self.limit:
                    return f"relative error {error:.3g}{where} > --max-drop {self.limit:g}"
            elif not torch.isfinite(a).all():
                return f"non-finite output{where}"
            elif (drop := top1_drop(a, o)) > self.limit:
                return (
                    f"top-1 agreement with the original {1 - drop:.3g}{where}, a drop of {drop:.3g} "
                    f"> --max-drop {self.limit:g}"
                )
        return None


def criterion() -> MaxDrop | None:
    limit = max_drop()
    return None if limit is None else MaxDrop(limit)
