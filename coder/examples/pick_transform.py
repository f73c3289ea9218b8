"""Print the transform ``make demo`` shows: the first of a few candidates that can run here and
is native on this CPU, with the reason on stderr. No torch import (it runs in a fraction of a
second).

The candidates are in the order of their measured speedups on resnet18 (docs/BENCHMARKS.md).
INT8 comes first: without calibration data it is quantized on the script's first call, so the
example's 3 warm-up calls cover the conversion and its checks, and its timed loop does not.
"""

from __future__ import annotations

import sys

from coder import transforms
from coder.backend.cpu import this_cpu

CANDIDATES = ("nano_openvino_int8", "nano_jit_bf16_ipex", "nano_openvino_fp32", "nano_jit_bf16", "nano_jit_fp32")


def pick() -> tuple[str, str]:
    cpu = this_cpu()
    for name in CANDIDATES:
        status = transforms.status(transforms.get(name), cpu)
        if status["available"] and status["verdict"] == "native":
            return name, f"the fastest candidate that is installed and native on this CPU ({cpu.summary()})"
    return CANDIDATES[-1], f"no faster candidate is installed and native on this CPU ({cpu.summary()})"


def main() -> int:
    name, why = pick()
    print(f"coder demo: using {name}: {why}", file=sys.stderr)
    print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
