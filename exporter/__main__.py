import sys

# `add` needs neither torch nor the exporters: keep it quick to start.
if sys.argv[1:2] == ["add"]:
    from exporter.add_command import add_main

    raise SystemExit(add_main(sys.argv[2:]))
if sys.argv[1:2] in (["rollout"], ["rollback"]):
    # `python -m rollout`'s old spelling, kept for the exporter image, whose entrypoint is
    # `python -m exporter` (`docker compose run --rm exporter rollout ...`, docs/rollout.md).
    import runpy

    sys.argv[0:2] = ["rollout"] if sys.argv[1] == "rollout" else ["rollout", "rollback"]
    runpy.run_module("rollout", run_name="__main__", alter_sys=True)

from exporter.cli import main  # noqa: E402

raise SystemExit(main())
