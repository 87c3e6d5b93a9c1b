"""python -m local_stack up|down|status"""

import sys

from local_stack import pipeline
from local_stack.server import ServerStartError

COMMANDS = {
    "up": pipeline.up,
    "serve": pipeline.serve,
    "down": pipeline.down,
    "status": pipeline.status,
}

if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
    print(f"usage: python -m local_stack {{{'|'.join(COMMANDS)}}}", file=sys.stderr)
    raise SystemExit(2)
try:
    raise SystemExit(COMMANDS[sys.argv[1]]())
except ServerStartError as exc:
    print(f"error: {exc}", file=sys.stderr)
    raise SystemExit(1) from None
