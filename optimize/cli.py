"""`python -m optimize`: the search run (baseline, candidates, ceiling, report); help: setup.HELP."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import sys
from pathlib import Path

import stack_settings
from optimize import model_config, reach, repository, search
from optimize.measure import MeasureError, Window, measure
from optimize.results import Goal, Results, ResumeError
from optimize.setup import apply_winner, parse_args, serving_base
from optimize.space import SearchSpace, SpaceError

# Exhaustive by default up to this many candidates, quick (hill climbing) above.
AUTO_EXHAUSTIVE_MAX = 16
BASELINE_PASSES = 2


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (candidates removed) with its own exit code."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def _baseline(args, results: Results, client_url: str | None, window: Window) -> dict | None:
    """The serving config itself at --budget-at-concurrency (stored: a resume reuses it).

    Measured twice and the lower p99 kept: the budget must not come from someone else's busy
    minute on a shared machine (a tighter budget, never a looser one).
    """
    if args.budget_at_concurrency is None:
        return None
    stored = results.run.get("baseline")
    if stored and stored["concurrency"] == args.budget_at_concurrency:
        return stored
    passes = []
    for number in range(1, BASELINE_PASSES + 1):
        print(f"baseline {number}/{BASELINE_PASSES}: {args.model} as served, concurrency "
              f"{args.budget_at_concurrency}")  # fmt: skip
        point = measure(args.model, client_url, args.budget_at_concurrency, window)
        if point["requests_failed"] or point["p99_ms"] is None:
            raise MeasureError(
                f"baseline run of {args.model!r} had failed requests: fix those first"
            )
        passes.append(point)
    baseline = min(passes, key=lambda p: p["p99_ms"]) | {"passes": passes}
    results.run["baseline"] = baseline
    results.save()
    return baseline


def _ceiling(args, results: Results, served: dict, model_dir: Path, phase: str) -> None:
    """In-process ORT before and after the search; the ceiling is the best of both, per batch.

    Twice, because on a shared machine one pass can land in someone else's busy minute.
    """
    if not args.ceiling:
        return
    key = f"ceiling_{phase}"
    stored = results.run.get(key)
    if not (stored and stored.get("batches") == args.ceiling_batches):
        from optimize.ceiling import in_process_throughput  # noqa: PLC0415 - onnxruntime here only

        filename = served.get("default_model_filename") or "model.onnx"
        print(f"ceiling ({phase} of the search): in-process ONNX Runtime on this machine")
        measured = in_process_throughput(
            model_dir / filename, served, args.ceiling_batches, args.ceiling_seconds
        )
        results.run[key] = measured | {"batches": args.ceiling_batches}
    passes = [results.run[k] for k in ("ceiling_start", "ceiling_end") if k in results.run]
    by_batch = {
        b: max(p["by_batch"][b] for p in passes if b in p["by_batch"])
        for b in passes[0]["by_batch"]
    }
    best_batch = max(by_batch, key=by_batch.get)
    results.run["ceiling"] = passes[-1] | {
        "by_batch": by_batch, "best_batch": int(best_batch), "best": by_batch[best_batch],
        "passes": len(passes),
    }  # fmt: skip
    results.save()


def _reach(args, results: Results, served: dict, base, space: SearchSpace):
    """The space's max batch sizes up to the ceiling's best batch (or --up-to-batch), capped by
    memory, none below the request's own batch; and where quick mode starts (the serving config,
    or with a target its knobs at the target batch)."""
    serving = model_config.serving_candidate(base)
    if base.max_batch_size <= 0:
        return space, serving
    target = args.up_to_batch
    if target is None and args.max_batch_size is None and "ceiling" in results.run:
        target = results.run["ceiling"]["best_batch"]
    if target is not None and args.max_batch_size is None:
        cap, why = reach.memory_cap(served, args.batch_memory_mb)
        space = reach.reach(space, target, cap, why)
        serving = dataclasses.replace(serving, max_batch_size=max(space.max_batch_size))
        results.run["reach"] = {"target": target, "cap": cap, "why": why}
    if args.request_batch_size > 1:
        kept = tuple(b for b in space.max_batch_size if b >= args.request_batch_size)
        if not kept:
            raise SpaceError(
                f"search space: every max_batch_size {list(space.max_batch_size)} is below "
                f"--request-batch-size {args.request_batch_size}; give larger ones"
            )
        space = dataclasses.replace(space, max_batch_size=kept)
    return space, serving.canonical()


def run(args) -> int:
    """The whole search; raises the errors main() turns into exit codes."""
    url = args.url or (
        f"{stack_settings.get('TRITON_HOST', '127.0.0.1')}:{stack_settings.get_int('TRITON_HTTP_PORT')}"
    )
    client_url = url if args.protocol == "http" else None
    model_repository = args.model_repository or stack_settings.get_path("MODEL_REPOSITORY")
    control = repository.ServerControl(url)
    try:
        control.check_live()
        args.machine += f"; Triton {control.client.get_server_metadata().get('version')}"
        args.load_at_start = os.getloadavg()[0]
        served = control.served_config(args.model)
        base = serving_base(model_repository, args.model, served)
        window = Window(
            args.protocol, args.shm or reach.default_shm(served), args.measurement_interval,
            args.stability_percentage, args.max_trials, args.duration, args.warmup,
            args.request_batch_size,
        )  # fmt: skip
        args.window = window
        space = SearchSpace(
            tuple(args.instances), tuple(args.max_batch_size or SearchSpace().max_batch_size),
            tuple(args.queue_delay_us), tuple(args.preferred),
        ).for_model(base.max_batch_size > 0)  # fmt: skip
        report_dir = args.report or (
            stack_settings.get_path("STACK_RUN_DIR") / "optimize" / args.model
        )
        identity = {
            "model": args.model,
            "base_config_sha": hashlib.sha1(model_config.to_text(base).encode()).hexdigest()[:12],
            "window": window.as_dict(),
        }
        results = Results(report_dir, identity, fresh=args.fresh)
        if results.resumed:
            print(f"resuming: {results.resumed} measurements in {results.path}")
        for name in repository.sweep_stale(control, model_repository, args.model):
            print(f"removed {name}: a candidate left by a run that was killed")

        baseline = _baseline(args, results, client_url, window)
        budget = baseline["p99_ms"] if baseline else args.p99_budget_ms
        if baseline:
            results.run["budget_source"] = (
                f"the serving config's p99 at concurrency {baseline['concurrency']}"
            )
        goal = Goal(budget, args.min_throughput)
        if baseline:
            print(
                f"budget: p99 {budget:.1f} ms (serving config at concurrency "
                f"{baseline['concurrency']}: {baseline['throughput']:.1f} infer/s)"
            )
        model_dir = repository.latest_version_dir(model_repository, args.model)
        _ceiling(args, results, served, model_dir, "start")
        space, serving = _reach(args, results, served, base, space)
        trials = search.Trials(
            args.model, base, model_repository, control, client_url, window, goal, results,
            args.max_concurrency, args.concurrency_steps, concurrencies=tuple(args.concurrency or ()),
        )  # fmt: skip
        exhaustive = args.exhaustive or (not args.quick and space.size() <= AUTO_EXHAUSTIVE_MAX)
        start = space.snap(serving)
        print(
            f"search: {'exhaustive' if exhaustive else 'quick'} over {space.size()} candidates "
            f"(instances {list(space.instances)}, max_batch_size {list(space.max_batch_size)}, "
            f"queue delay µs {list(space.queue_delay_us)}, preferred {list(space.preferred)})"
            + ("" if exhaustive else f", starting at {start.label()}")
        )
        if exhaustive:
            points = search.exhaustive(space, trials.evaluate)
        else:
            points = search.quick(space, start, trials.evaluate, goal.score, args.max_candidates)
        _ceiling(args, results, served, model_dir, "end")
        return _finish(args, results, goal, points, base, model_repository, control, report_dir)
    finally:
        control.close()


def _finish(args, results, goal, points, base, model_repository, control, report_dir) -> int:
    """Winner config, report, plot, table; the exit code says whether the goal was met."""
    from optimize import gap, plots, report  # noqa: PLC0415 - matplotlib is slow to import

    best = max(points, key=goal.score) if points else None
    winner = best if best is not None and goal.meets(best) else None
    results.run["winner"] = winner
    results.run["candidates"] = len(points)
    results.save()
    header = [
        f"# optimize {args.model}",
        "",
        f"`python -m optimize {' '.join(args.argv)}`",
        "",
        f"{len(points)} candidates, {len(results.measurements)} measurements "
        f"({args.window.describe()}); machine: {args.machine}; load average "
        f"{args.load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end",
    ]
    plots.throughput_vs_p99(
        results.measurements, goal, winner, report_dir / "throughput_vs_p99.png",
        f"{args.model}: throughput vs p99 ({len(points)} candidates)", results.run.get("baseline"),
    )  # fmt: skip
    command = gap.profiling_command(
        args.model, args.window.shm, args.protocol, winner["concurrency"] if winner else 1
    )
    gap_lines = gap.lines(results.run, winner, command)
    path = report.write_markdown(report_dir, header, points, goal, winner, results.run, gap_lines)
    print(report.table(points, goal, winner))
    print("\n".join(report.summary_lines(results.run, goal, winner) + gap_lines))
    if winner is None:
        print(f"report: {path} (no candidate met the goal; the closest is first in the table)")
        return 1
    written = apply_winner(args, base, winner, model_repository, report_dir, control)
    print(f"report: {path}\nwinner config: {' '.join(map(str, written))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C even where SIGINT came in ignored (a background job of a script, nohup, CI).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return run(args)
    except (
        repository.RepositoryError,
        model_config.ConfigError,
        SpaceError,
        ResumeError,
        MeasureError,
        stack_settings.SettingError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        name = "SIGTERM" if isinstance(exc, Terminated) else "interrupted"
        print(
            f"{name}: candidates unloaded and removed; the same command resumes from "
            f"optimize.json in the report folder",
            file=sys.stderr,
        )
        return 143 if isinstance(exc, Terminated) else 130
