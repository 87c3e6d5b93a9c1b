"""The report: a table of every candidate, the winner and the ratios, as Markdown and on stdout."""

from __future__ import annotations

from pathlib import Path

from optimize.results import Goal, pareto_front


def table(points: list[dict], goal: Goal, winner: dict | None) -> str:
    """One row per candidate (its best point), best first."""
    front = {id(p) for p in pareto_front(points)}
    rows = sorted(points, key=goal.score, reverse=True)
    lines = [
        "| candidate | conc | infer/s | p50 ms | p99 ms | avg batch | stable | goal | Pareto | note |",
        "|---|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for p in rows:
        if p.get("error"):
            lines.append(f"| {p['label']} | | | | | | | | | {p['error'][:120]} |")
            continue
        note = "**winner**" if p is winner else ""
        if p.get("requests_failed"):
            note += f" {p['requests_failed']} requests failed"
        lines.append(
            f"| {p['label']} | {p['concurrency']} | {p['throughput']:.1f} | {p['p50_ms']:.1f} "
            f"| {p['p99_ms']:.1f} | {p['avg_batch_size'] or 0:.2f} | {_stable(p)} "
            f"| {'yes' if goal.meets(p) else 'no'} | {'yes' if id(p) in front else ''} | {note.strip()} |"
        )
    return "\n".join(lines)


def _variant_note(ceiling: dict) -> str:
    """How the ceiling's best batch ran, e.g. ' (device-resident; host-fed 412.0)'."""
    rates = ceiling.get("by_variant", {}).get(str(ceiling["best_batch"]))
    if not rates:
        return ""
    best = max(rates, key=rates.get)
    others = "".join(f"; {name} {rate:.1f}" for name, rate in rates.items() if name != best)
    return f" ({best}{others}, last pass)"


def summary_lines(run: dict, goal: Goal, winner: dict | None) -> list[str]:
    """The run's headline: goal, baseline, ceiling, winner and their ratios."""
    lines = []
    if goal.p99_budget_ms is not None:
        source = run.get("budget_source", "--p99-budget-ms")
        lines.append(f"- p99 budget: {goal.p99_budget_ms:.1f} ms ({source})")
    if goal.min_throughput is not None:
        lines.append(f"- minimum throughput: {goal.min_throughput:.1f} infer/s")
    baseline, ceiling = run.get("baseline"), run.get("ceiling")
    if run.get("reach"):
        lines.append(
            f"- max_batch_size searched up to {run['reach']['target']} (the ceiling's best batch "
            f"or --up-to-batch), memory: {run['reach']['why']}"
        )
    if baseline:
        lines.append(
            f"- serving config at concurrency {baseline['concurrency']}: "
            f"{baseline['throughput']:.1f} infer/s, p99 {baseline['p99_ms']:.1f} ms"
        )
    if ceiling:
        by_batch = ", ".join(f"b{b} {v:.1f}" for b, v in ceiling["by_batch"].items())
        lines.append(
            f"- ceiling (in-process ONNX Runtime {ceiling.get('onnxruntime', '')}, {ceiling.get('provider', 'CPUExecutionProvider')}, "
            f"best of {ceiling.get('passes', 1)} passes over {by_batch}): {ceiling['best']:.1f} "
            f"infer/s at batch {ceiling['best_batch']}{_variant_note(ceiling)}"
        )
    if winner is None:
        lines.append("- winner: none met the goal")
        return lines
    lines.append(
        f"- winner: {winner['label']} at concurrency {winner['concurrency']}: "
        f"{winner['throughput']:.1f} infer/s, p99 {winner['p99_ms']:.1f} ms"
    )
    if ceiling:
        lines.append(f"- winner / ceiling: {winner['throughput'] / ceiling['best']:.1%}")
        if baseline:
            lines.append(
                f"- serving config / ceiling: {baseline['throughput'] / ceiling['best']:.1%}"
            )
    if baseline:
        lines.append(
            f"- winner / serving config: {winner['throughput'] / baseline['throughput']:.2f}x"
        )
    return lines


def write_markdown(
    folder: Path, header: list[str], points, goal, winner, run, gap: list[str] = ()
) -> Path:
    """report.md: what was run, the headline numbers, where the rest goes, the table, the plot."""
    text = "\n".join(
        [
            *header,
            "",
            *summary_lines(run, goal, winner),
            *gap,
            "",
            table(points, goal, winner),
            "",
            "![throughput vs p99](throughput_vs_p99.png)",
            "",
        ]
    )
    path = folder / "report.md"
    path.write_text(text)
    return path


def _stable(point: dict) -> str:
    stable = point.get("stable")
    return "-" if stable is None else ("yes" if stable else "NO")
