"""python -m local_stack up|serve|down|status, or key rotate|path"""

import sys

import stack_settings
from local_stack import key_command, pipeline

COMMANDS = {
    "up": pipeline.up,
    "serve": pipeline.serve,
    "down": pipeline.down,
    "status": pipeline.status,
}
USAGE = f"usage: python -m local_stack {{{'|'.join(COMMANDS)}}} | key {{{'|'.join(key_command.COMMANDS)}}}"

args = sys.argv[1:]
if args[:1] == ["key"] and len(args) == 2 and args[1] in key_command.COMMANDS:
    command = key_command.COMMANDS[args[1]]
elif len(args) == 1 and args[0] in COMMANDS:
    command = COMMANDS[args[0]]
else:
    print(USAGE, file=sys.stderr)
    raise SystemExit(2)
try:
    raise SystemExit(command())
except stack_settings.StackError as exc:  # ServerStartError, ControlKeyError: message names the fix
    print(f"error: {exc}", file=sys.stderr)
    raise SystemExit(1) from None
