"""report.html: one self-contained page (inline CSS, PNGs as base64 data URIs, no script, no external URL)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from ioa.report.data import ReportData

CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.mastered { color: #2e7d32; font-weight: 600; } .unmastered { color: #c0392b; }
.muted { color: #777; } img { max-width: 100%; border: 1px solid #eee; }
"""

CAPTIONS = {
    "mastery": "Mastery ratio P_S/P_T per module per diagnosis round; the dashed line is the mastery gate.",
    "curriculum": "The curriculum DAG (prerequisite → dependent), coloured by each module's state in the last round.",
    "teacher": "Teacher requests and tokens per round (round 0 is the initial identification of gaps).",
    "loss": "The student's training loss at every optimizer step, one colour per training round.",
}


def _image(path: Path | None, name: str) -> str:
    if path is None:
        return f'<p class="muted">No data for this plot yet ({escape(name)}).</p>'
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{escape(name)}" src="data:image/png;base64,{encoded}">'
        f"<figcaption>{escape(CAPTIONS[name])}</figcaption></figure>"
    )


@dataclass(frozen=True)
class Styled:
    """A table cell with a CSS class."""

    text: str
    css: str


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, Styled):
            return f'<td class="{escape(value.css)}">{escape(value.text)}</td>'
        if isinstance(value, float):
            return f'<td class="num">{value:.3f}</td>'
        if isinstance(value, int) and not isinstance(value, bool):
            return f'<td class="num">{value}</td>'
        return f"<td>{escape(str(value))}</td>"

    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _headline(data: ReportData) -> str:
    s = data.summary
    if s is None:
        return '<p class="muted">No summary.json yet: the run has not finished (or was killed early).</p>'
    mastered = sum(m["mastered"] for m in s["modules"])
    t = s["teacher"]
    return _table(
        ["status", "rounds", "mastered", "teacher calls", "prompt tokens", "completion tokens", "elapsed s"],
        [
            [
                s["status"],
                s["rounds"],
                f"{mastered}/{len(s['modules'])}",
                t["calls"],
                t["prompt_tokens"],
                t["completion_tokens"],
                float(s["elapsed_s"]),
            ]
        ],
    )


def _modules(data: ReportData) -> str:
    last = data.last_states()
    if not last:
        return '<p class="muted">No diagnosis yet.</p>'
    first = {r.module: r for r in data.mastery if r.round == min(data.rounds)}
    rows = []
    for k, row in last.items():
        rows.append([k, row.p_teacher, first[k].p_student, row.p_student, row.ratio, Styled(row.state, row.state)])
    return _table(["module", "P_T", "P_S initial", "P_S last", "ratio", "state"], rows)


def _decisions(data: ReportData) -> str:
    rows = [
        [e["round"], e["kind"], e.get("decision", ""), e.get("reason") or e["summary"]]
        for e in data.decisions
        if e["kind"] in ("decision", "batch_check", "curriculum")
    ]
    if not rows:
        return '<p class="muted">The planner has made no decision yet.</p>'
    return _table(["round", "kind", "decision", "reason"], rows)


def render_page(data: ReportData, plots: dict[str, Path | None]) -> str:
    """The whole page as one HTML string."""
    title = f"IOA-Distill run {data.run_dir.name}"
    run_id = (data.summary or {}).get("run_id", "")
    sections = [
        "<h2>Summary</h2>",
        _headline(data),
        "<h2>Modules</h2>",
        _modules(data),
        "<h2>Mastery per round</h2>",
        _image(plots.get("mastery"), "mastery"),
        "<h2>Curriculum</h2>",
        _image(plots.get("curriculum"), "curriculum"),
        "<h2>Teacher usage</h2>",
        _image(plots.get("teacher"), "teacher"),
        "<h2>Training</h2>",
        _image(plots.get("loss"), "loss"),
        "<h2>Planner decisions</h2>",
        _decisions(data),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        # An empty inline icon: otherwise the browser asks for /favicon.ico, which a file:// page does not have.
        '<link rel="icon" href="data:,">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n"
        f'<p class="muted">{escape(run_id)} · {escape(str(data.run_dir))} · mastery gate τ = {data.tau_mastery}</p>\n'
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )
