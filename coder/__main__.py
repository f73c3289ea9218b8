import atexit
import os
import sys

# ``python -m coder`` puts the current folder first on sys.path: a user's transforms.py or
# utils.py there must never be what an import of coder (or of a library it uses) finds
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from coder.backend.interruption import exit_like_python

atexit.register(exit_like_python)  # before any library registers its own: it runs last

from coder.cli import main  # noqa: E402

try:
    code = main()
    sys.stdout.flush()
except BrokenPipeError:  # output piped into a reader that closed early, e.g. `| head`
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    code = 0
sys.exit(code)
