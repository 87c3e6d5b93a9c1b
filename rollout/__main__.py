"""`python -m rollout --model NAME ...` rolls out; `python -m rollout rollback ...` goes back."""

import sys

from rollout.cli import main

argv = sys.argv[1:]
if argv[:1] == ["rollback"]:
    raise SystemExit(main("rollback", argv[1:]))
raise SystemExit(main("rollout", argv[1:] if argv[:1] == ["rollout"] else argv))
