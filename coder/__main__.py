import os
import sys

from coder.cli import main

try:
    code = main()
    sys.stdout.flush()
except BrokenPipeError:  # output piped into a reader that closed early, e.g. `| head`
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    code = 0
sys.exit(code)
