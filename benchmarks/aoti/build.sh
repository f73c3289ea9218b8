#!/bin/sh
# Builds run_package against the libtorch inside the torch wheel of PYTHON (g++ 12 here).
# --no-as-needed keeps libtorch.so loaded: the package's model .so, opened later, needs it.
#   benchmarks/aoti/build.sh [PYTHON] [OUT]
set -e
PYTHON=${1:-python}
OUT=${2:-run_package}
TORCH=$("$PYTHON" -c "import os, torch; print(os.path.dirname(torch.__file__))")
ABI=$("$PYTHON" -c "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))")
g++ -std=c++17 -O2 -D_GLIBCXX_USE_CXX11_ABI="$ABI" "$(dirname "$0")/run_package.cpp" -o "$OUT" \
  -I"$TORCH/include" -I"$TORCH/include/torch/csrc/api/include" \
  -L"$TORCH/lib" -Wl,-rpath,"$TORCH/lib" -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10
