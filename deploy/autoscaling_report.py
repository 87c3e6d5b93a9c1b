"""The autoscaling simulation's outputs: CSV, plot, summary.json with the verdict.

`python -m deploy.autoscaling_report docs/autoscaling` redraws the plot and the verdict from a
run's CSV and summary.json, without running the simulation again.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt  # noqa: E402

from bench.machine import describe  # noqa: E402
from deploy.hpa import TOLERANCE  # noqa: E402

# A scale-up within this long after p99 first breaks its budget counts as "when p99 breaks".
REACTION_S = 45.0


def reversals(replicas: list[int]) -> int:
    """How often the replica count changed direction (up then down is one)."""
    steps = [b - a for a, b in zip(replicas, replicas[1:], strict=False) if b != a]
    return sum(1 for a, b in zip(steps, steps[1:], strict=False) if (a > 0) != (b > 0))


def verdict(rows: list[dict], budget_ms: float, min_replicas: int) -> dict:
    """Did it scale up when p99 broke its budget, and come back down without flapping?"""
    over = [r for r in rows if (r["client_p99_ms"] or 0) > budget_ms]
    breaches = [r["t_s"] for r in over if r["phase"] == "above"]
    ups = [r["t_s"] for r in rows if r["replicas"] > min_replicas]
    replicas = [r["replicas"] for r in rows]
    first_breach = breaches[0] if breaches else None
    first_up = ups[0] if ups else None
    back_at = next(
        (r["t_s"] for r in rows if r["phase"] == "below again" and r["replicas"] == min_replicas),
        None,
    )
    checks = {
        "p99 broke its budget under the step": first_breach is not None,
        f"scaled up no later than {REACTION_S:.0f} s after the first breach": (
            first_up is not None
            and first_breach is not None
            and first_up <= first_breach + REACTION_S
        ),
        "back to minReplicas after the load dropped": replicas[-1] == min_replicas,
        "no flapping (replicas changed direction at most once)": reversals(replicas) <= 1,
    }
    return {
        "passed": all(checks.values()),
        "checks": checks,
        "first_p99_breach_s": first_breach,
        "first_scale_up_s": first_up,
        "max_replicas": max(replicas),
        "back_to_min_s": back_at,
        "direction_changes": reversals(replicas),
        # noise: samples over budget while the offered load was below one pod's capacity
        "p99_over_budget_below_capacity_s": sorted({r["t_s"] for r in over} - set(breaches)),
    }


def plot(rows: list[dict], args, values: dict, path: Path) -> None:
    t = [r["t_s"] for r in rows]
    figure, (load, ratio, latency) = plt.subplots(3, 1, figsize=(11, 10), sharex=True)
    for axis in (load, ratio, latency):
        axis.axvspan(args.before_s, args.before_s + args.high_s, color="0.92", zorder=0)
        axis.grid(alpha=0.3)
    load.step(t, [r["offered_rps"] for r in rows], where="post", label="offered (all pods)")
    load.step(t, [r["per_pod_rps"] for r in rows], where="post", label="sent to each ready pod",
              alpha=0.7)  # fmt: skip
    load.plot(t, [r["served_rps"] for r in rows], label="served by the measured pod (Prometheus)")
    load.set_ylabel("requests/s")
    load.legend(loc="upper left", fontsize=8)
    pods = load.twinx()
    pods.step(t, [r["replicas"] for r in rows], where="post", color="C3", lw=2, label="replicas")
    pods.step(t, [r["ready_replicas"] for r in rows], where="post", color="C3", ls=":",
              label="ready")  # fmt: skip
    pods.set_ylabel("pods", color="C3")
    pods.set_ylim(0, values["maxReplicas"] + 1)
    pods.legend(loc="upper right", fontsize=8)
    target = float(values["targetRatio"])
    ratio.plot(
        t,
        [r["ratio"] for r in rows],
        color="C4",
        label="pod:nv_inference_queue_compute_ratio:rate1m",
    )
    ratio.axhline(target, color="k", ls="--", lw=1, label=f"target {target:g}")
    ratio.axhspan(target * (1 - TOLERANCE), target * (1 + TOLERANCE), color="k", alpha=0.1,
                  label="tolerance ±10 %")  # fmt: skip
    ratio.set_yscale("symlog", linthresh=0.1)
    ratio.set_ylabel("queue / compute time")
    ratio.legend(loc="upper right", fontsize=8)
    latency.plot(t, [r["client_p99_ms"] for r in rows], label="client p99 (histogram, rate 1m)")
    latency.plot(
        t, [r["server_p99_ms"] for r in rows], label="server p99 (Triton summary)", alpha=0.7
    )
    latency.axhline(
        args.p99_budget_ms, color="C3", ls="--", label=f"budget {args.p99_budget_ms:g} ms"
    )
    latency.set_yscale("log")
    latency.set_ylabel("ms")
    latency.set_xlabel("seconds (grey: offered load above one pod's capacity)")
    latency.legend(loc="upper right", fontsize=8)
    figure.suptitle(
        f"HPA on the queue/compute ratio, simulated on a real Triton ({args.model}, CPU, shared 2-core machine)",
        fontsize=11,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(rows: list[dict], args, values: dict, out: Path) -> dict:
    """simulation.csv, simulation.png and summary.json under `out`; returns the verdict."""
    out.mkdir(parents=True, exist_ok=True)
    merged = rows
    with open(out / "simulation.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(merged[0]))
        writer.writeheader()
        writer.writerows(merged)
    plot(merged, args, values, out / "simulation.png")
    result = verdict(merged, args.p99_budget_ms, int(values["minReplicas"]))
    settings = {k: v for k, v in vars(args).items() if k not in ("output",)}
    summary = {"verdict": result, "settings": settings, "autoscaling_values": values,
               "machine": describe()}  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {out / 'simulation.csv'}, {out / 'simulation.png'}, {out / 'summary.json'}")
    return result


def _number(text: str):
    if text in ("", "None"):
        return None
    try:
        return float(text)
    except ValueError:
        return text


def redraw(out: Path) -> dict:
    """Plot and verdict again from out/simulation.csv and out/summary.json."""
    summary = json.loads((out / "summary.json").read_text())
    with open(out / "simulation.csv", newline="") as handle:
        rows = [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    args = argparse.Namespace(**summary["settings"])
    values = summary["autoscaling_values"]
    plot(rows, args, values, out / "simulation.png")
    summary["verdict"] = verdict(rows, args.p99_budget_ms, int(values["minReplicas"]))
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary["verdict"]


if __name__ == "__main__":
    import sys

    parser = argparse.ArgumentParser(prog="python -m deploy.autoscaling_report")
    parser.add_argument("folder", type=Path, help="a simulation's output folder")
    result = redraw(parser.parse_args().folder)
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["passed"] else 1)
