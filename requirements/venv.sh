#!/usr/bin/env bash
# Build (or reuse) a virtual environment pinned by a lock file.
# usage: requirements/venv.sh [--check] DIR LOCKFILE EXTRAS
#   --check  only say "ready" or "rebuild" (exit 0 / 1), build nothing
#   --hash   only print the hash a ready environment's stamp holds
# The stamp, written last, holds a hash of everything the environment is built
# from: a missing stamp (interrupted install) or a different hash (outdated)
# means the environment is removed and built again from scratch.
set -euo pipefail
mode=build
[[ ${1:-} == --* ]] && { mode=${1#--}; shift; }
dir=$1 lock=$2 extras=$3
python=${PYTHON:-python3}
stamp="$dir/.coder-stack"
# only what decides the installed packages: tool settings in pyproject.toml do not count
project_table=$(sed -n '/^\[project/,/^\[tool/p' pyproject.toml)
want=$({ cat "$lock"; echo "$project_table"; echo "$extras"; "$python" --version; } | sha256sum | cut -d' ' -f1)

is_ready() {
    [[ -f $stamp && "$(cat "$stamp")" == "$want" ]] && "$dir/bin/python" -c "import coder" 2>/dev/null
}

[[ $mode == hash ]] && { echo "$want"; exit 0; }
if is_ready; then
    [[ $mode == check ]] && echo ready
    exit 0
fi
[[ $mode == check ]] && { echo rebuild; exit 1; }
[[ -e $dir ]] && echo "coder: $dir is half-built or outdated: rebuilding it" >&2
echo "coder: building $dir from $lock (pip, a few minutes the first time)" >&2
start=$SECONDS
rm -rf "$dir"
"$python" -m venv "$dir"
install() {
    # this machine's pip lists local index folders that may be absent: drop that noise
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" -c "$lock" -e ".[$extras]" 2>&1 \
        | { grep -v "is ignored: it is neither a file nor a directory" || true; } >&2
}
# a download cut short (a torch wheel is ~900 MB) fails pip's hash check: try again, uncached
for attempt in 1 2 3; do
    install $([[ $attempt -gt 1 ]] && echo --no-cache-dir) && break
    [[ $attempt == 3 ]] && { echo "coder: pip failed 3 times building $dir" >&2; exit 1; }
    echo "coder: pip failed (attempt $attempt of 3), trying again" >&2
done
"$dir/bin/python" -m pip check >&2
"$dir/bin/python" -m coder --version >&2
echo "$want" > "$stamp"
echo "coder: $dir ready in $((SECONDS - start)) s, $(du -sh "$dir" | cut -f1)" >&2
