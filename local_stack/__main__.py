"""python -m local_stack up|serve|down|status: the local path by itself (make up goes through launcher/)"""

import sys

import stack_settings
from local_stack import pipeline

COMMANDS = {
    "up": pipeline.up,
    "serve": pipeline.serve,
    "down": pipeline.down,
    "status": pipeline.status,
}
USAGE = f"usage: python -m local_stack {{{'|'.join(COMMANDS)}}}"

args = sys.argv[1:]
if len(args) == 1 and args[0] in COMMANDS:
    command = COMMANDS[args[0]]
else:
    print(USAGE, file=sys.stderr)
    raise SystemExit(2)
try:
    raise SystemExit(command())
except stack_settings.StackError as exc:  # ServerStartError etc.: the message names the fix
    print(f"error: {exc}", file=sys.stderr)
    raise SystemExit(1) from None
