import sys

# `add` needs neither torch nor the exporters: keep it quick to start.
if sys.argv[1:2] == ["add"]:
    from exporter.add_command import add_main

    raise SystemExit(add_main(sys.argv[2:]))
if sys.argv[1:2] in (["rollout"], ["rollback"]):  # torch only for `rollout --rebuild`
    from exporter.rollout_cli import main as rollout_main

    raise SystemExit(rollout_main(sys.argv[1], sys.argv[2:]))

from exporter.cli import main  # noqa: E402

raise SystemExit(main())
