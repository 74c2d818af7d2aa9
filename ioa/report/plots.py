"""The report's figures, drawn with matplotlib's object API on the Agg canvas.

No pyplot: it would switch the backend of a notebook that calls ``ioa.report`` and keep
figures alive in its global registry. Each function returns a Figure, or None when the run
has no data for it yet (a run stopped before its first training round has no loss curve).
"""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ioa.report.data import ReportData
from ioa.rundir import atomic_write

STATE_COLOURS: dict[str, str] = {
    "mastered": "#4caf50",
    "unmastered": "#ef8354",
    "forgotten": "#f4c430",
    "stuck": "#9e9e9e",
    "beyond_teacher": "#7f8fa6",
    "unknown": "#e0e0e0",
}
"""A colour for every ``rules.ModuleState`` (a test holds them equal), and for a module with no diagnosis yet."""


def mastery_figure(data: ReportData) -> Figure | None:
    """P_S/P_T per module per diagnosis round, against the mastery gate."""
    if not data.mastery:
        return None
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for row in data.mastery:
        series[row.module].append((row.round, row.ratio))
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for module, points in sorted(series.items()):
        xs, ys = zip(*sorted(points), strict=True)
        ax.plot(xs, ys, marker="o", label=module)
    ax.axhline(data.tau_mastery, color="black", linestyle="--", linewidth=1, label=f"τ_mastery = {data.tau_mastery}")
    ax.set_xlabel("diagnosis round")
    ax.set_ylabel("mastery ratio P_S / P_T")
    ax.set_xticks(data.rounds)
    ax.set_ylim(bottom=0)
    ax.set_title("Mastery ratio per module")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    return fig


def layers(modules: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Column of each module in the drawing: the length of its longest prerequisite chain."""
    prereqs: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        prereqs[b].append(a)
    depth: dict[str, int] = {}

    def visit(k: str) -> int:
        if k not in depth:
            depth[k] = 0  # the curriculum is a DAG; this guard only keeps a corrupt file from recursing forever
            depth[k] = 1 + max((visit(p) for p in prereqs[k]), default=-1)
        return depth[k]

    for k in modules:
        visit(k)
    return depth


def curriculum_figure(data: ReportData) -> Figure | None:
    """The prerequisite DAG, coloured by each module's state in the last round; stage numbers on the targets."""
    if data.curriculum is None:
        return None
    modules = [m["id"] for m in data.curriculum["modules"]]
    edges = [(a, b) for a, b in data.curriculum["edges"]]
    stage_of = {k: i for i, stage in enumerate(data.curriculum.get("stages", [])) for k in stage}
    stuck = set((data.summary or {}).get("stuck", [])) | set(data.curriculum.get("excluded_stuck", []))
    last = data.last_states()

    column = layers(modules, edges)
    by_column: dict[int, list[str]] = defaultdict(list)
    for k in modules:
        by_column[column[k]].append(k)
    pos = {k: (float(c), float(len(ks) - 1) / 2 - i) for c, ks in by_column.items() for i, k in enumerate(sorted(ks))}

    height = max(len(ks) for ks in by_column.values())
    fig = Figure(figsize=(3 + 2.6 * len(by_column), 1.5 + 1.0 * height), layout="constrained")
    ax = fig.add_subplot()
    boxes = {}
    for k in modules:
        state = "stuck" if k in stuck else (last[k].state if k in last else "unknown")
        ratio = f"\n{last[k].ratio:.2f}" if k in last else ""
        stage = f"\nstage {stage_of[k] + 1}" if k in stage_of else ""
        boxes[k] = ax.text(
            *pos[k],
            f"{k}{ratio}{stage}",
            ha="center",
            va="center",
            fontsize=8,
            zorder=3,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": STATE_COLOURS[state], "edgecolor": "#333333"},
        )
    for a, b in edges:
        # Clipped at the two boxes, slightly curved so edges that share a column do not run over each other.
        ax.annotate(
            "",
            xy=pos[b],
            xytext=pos[a],
            zorder=1,
            arrowprops={
                "arrowstyle": "-|>",
                "color": "#555555",
                "lw": 1.0,
                "patchA": boxes[a].get_bbox_patch(),
                "patchB": boxes[b].get_bbox_patch(),
                "connectionstyle": "arc3,rad=0.08",
            },
        )
    for state, colour in STATE_COLOURS.items():
        ax.scatter([], [], s=80, color=colour, label=state, marker="s")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", title="state (last round)")
    ax.set_xlim(-0.6, max(by_column) + 0.6)
    ax.set_ylim(-height / 2 - 0.2, height / 2 + 0.2)
    ax.set_axis_off()
    round_note = f" after round {max(data.rounds)}" if data.rounds else ""
    ax.set_title(f"Curriculum: prerequisite DAG{round_note} (label: module, P_S/P_T, stage)")
    return fig


def teacher_figure(data: ReportData) -> Figure | None:
    """Teacher requests and tokens per round (round 0 is the initial identification)."""
    if not data.teacher_calls:
        return None
    rounds = sorted(data.teacher_calls)
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    calls_ax, tokens_ax = fig.subplots(1, 2)
    calls_ax.bar(rounds, [data.teacher_calls[r] for r in rounds], color="#5c7cfa")
    calls_ax.set_title("Teacher calls per round")
    tokens_ax.bar(rounds, [data.teacher_tokens.get(r, 0) for r in rounds], color="#845ef7")
    tokens_ax.set_title("Teacher tokens per round (prompt + completion)")
    for ax in (calls_ax, tokens_ax):
        ax.set_xlabel("round")
        ax.set_xticks(rounds)
    return fig


def loss_figure(data: ReportData) -> Figure | None:
    """The student's training loss, step by step, one colour per training round."""
    if not data.training:
        return None
    fig = Figure(figsize=(8, 3.5), layout="constrained")
    ax = fig.add_subplot()
    offset = 0
    for t in data.training:
        # Steps 1..n of this round; a trace without per-step losses has only the first and last.
        xs = np.linspace(offset + 1, offset + t.steps, len(t.losses))
        ax.plot(xs, t.losses, marker="." if len(t.losses) > 2 else "o", label=f"round {t.round}")
        offset += t.steps
    ax.set_xlabel("optimizer step (cumulative over rounds)")
    ax.set_ylabel("loss")
    ax.set_title("Student training loss per round")
    ax.legend(fontsize="small")
    return fig


FIGURES = {
    "mastery": mastery_figure,
    "curriculum": curriculum_figure,
    "teacher": teacher_figure,
    "loss": loss_figure,
}
"""Plot name (the PNG's file stem) -> the function that draws it."""


def save_figure(fig: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas = FigureCanvasAgg(fig)
    # A first draw lays out the text boxes, so the curriculum's arrows can be clipped at their edges.
    canvas.draw()
    png = io.BytesIO()
    canvas.print_png(png)
    atomic_write(path, png.getvalue())


def write_plots(data: ReportData, out_dir: Path) -> dict[str, Path | None]:
    """Every figure as ``out_dir/NAME.png``; None for a figure without data (its stale PNG is removed)."""
    written: dict[str, Path | None] = {}
    for name, draw in FIGURES.items():
        path = out_dir / f"{name}.png"
        fig = draw(data)
        if fig is None:
            path.unlink(missing_ok=True)
            written[name] = None
        else:
            save_figure(fig, path)
            written[name] = path
    return written
