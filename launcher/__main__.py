"""python -m launcher up|down, or key rotate|path (launcher/launch.py)."""

import sys

from launcher.launch import main

raise SystemExit(main(sys.argv[1:]))
