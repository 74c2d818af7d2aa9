"""`ioa report`: plots from the run-directory files, a self-contained page, and that page in headless Chromium."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from ioa.config import Config
from ioa.report import load_report_data, write_report
from ioa.report.plots import STATE_COLOURS, layers
from ioa.rules import ModuleState
from ioa.rundir import RunDir, write_json
from ioa.traces import Tracer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = {"mastery", "curriculum", "teacher", "loss"}
MODULES = {"add": [], "sub": ["add"], "mul": ["add"], "chain": ["add", "sub"]}
P_TEACHER = 0.8
P_STUDENT = {0: [0.0, 0.0, 0.1, 0.0], 1: [0.5, 0.2, 0.1, 0.0], 2: [0.78, 0.5, 0.2, 0.1]}


def _mastery_rows(round_: int) -> list[dict]:
    rows = []
    for module, p in zip(MODULES, P_STUDENT[round_], strict=True):
        ratio = p / P_TEACHER
        rows.append(
            {
                "round": round_,
                "module": module,
                "p_teacher": f"{P_TEACHER:.4f}",
                "p_student": f"{p:.4f}",
                "ratio": f"{ratio:.4f}",
                "state": "mastered" if ratio >= 0.9 else "unmastered",
            }
        )
    return rows


def make_run(root: Path, rounds: int) -> Path:
    """A run directory written by hand to the docs/design.md §8 contract, with ``rounds`` training rounds."""
    rd = RunDir.create(root, Config().to_yaml())
    tracer = Tracer(rd.traces)
    for r in range(rounds + 1):
        rd.write_mastery_round(r, _mastery_rows(r))
        node = "identify" if r == 0 else "teach"
        for i in range(3 + r):
            kind = "parse_failure" if i == 0 else "completion"
            tracer.event(round=r, node=node, agent="teacher", kind=kind, summary="x", tokens=50 + i, program="p")
        if r:
            tracer.event(round=r, node="teach", agent="teacher", kind="synthesis", summary="round total", tokens=999)
            tracer.event(
                round=r,
                node="train",
                agent="trainer",
                kind="training",
                summary="trained",
                steps=4,
                loss_first=3.0 / r,
                loss_last=1.0 / r,
                losses=[3.0 / r, 2.0 / r, 1.5 / r, 1.0 / r],
            )
        tracer.event(
            round=r, node="plan", agent="planner", kind="decision", summary="s", decision="teach", reason="<why & how>"
        )
    write_json(
        rd.curriculum,
        {
            "round": rounds,
            "modules": [{"id": k, "name": k.title(), "prerequisites": p} for k, p in MODULES.items()],
            "edges": [[p, k] for k, ps in MODULES.items() for p in ps],
            "targets": ["chain"],
            "stages": [["add"], ["sub"], ["chain"]],
        },
    )
    write_json(
        rd.summary,
        {
            "status": "completed",
            "run_id": rd.run_id,
            "rounds": rounds,
            "modules": [
                {"id": k, "name": k, "p_teacher": P_TEACHER, "p_student_initial": 0.0, "p_student_final": 0.1}
                | {"mastered": k == "add"}
                for k in MODULES
            ],
            "stuck": ["mul"],
            "teacher": {"calls": 12, "prompt_tokens": 500, "completion_tokens": 100, "cache_hits": 0},
            "student": {"params": 10, "trainable_params": 10},
            "elapsed_s": 12.5,
        },
    )
    return root


def _console_messages(stderr: str) -> list[str]:
    # Chromium writes every page console message (errors included) to stderr as ...:CONSOLE:...
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def open_in_chromium(page: Path, tmp_path: Path) -> tuple[str, list[str]]:
    """Load ``page`` in headless Chromium; returns the rendered DOM and the page's console messages."""
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not on PATH: `bash scripts/setup.sh --dev` installs it (as root)"
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout, _console_messages(out.stderr)


def assert_self_contained(html: str) -> None:
    assert "<script" not in html
    assert not re.search(r"https?://", html), "the page must not reference any URL"
    for src in re.findall(r'src="([^"]*)"', html):
        assert src.startswith("data:image/png;base64,")


def test_report_writes_plots_and_a_self_contained_page(tmp_path):
    run_dir = make_run(tmp_path / "run", rounds=2)
    page = write_report(run_dir)
    assert page == run_dir / "report.html"
    pngs = {p.stem: p for p in (run_dir / "plots").glob("*.png")}
    assert set(pngs) == PLOTS
    html = page.read_text()
    assert_self_contained(html)
    inlined = [base64.b64decode(s) for s in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]
    assert len(inlined) == len(PLOTS)
    assert sorted(inlined) == sorted(p.read_bytes() for p in pngs.values())
    assert all(b.startswith(PNG_MAGIC) for b in inlined)
    # Text from the run is escaped, never injected as markup.
    assert "&lt;why &amp; how&gt;" in html and "<why & how>" not in html


def test_report_numbers_come_from_the_run_files(tmp_path):
    data = load_report_data(make_run(tmp_path / "run", rounds=2))
    # Per-request teacher events only: the teach node's round total (no program) is not a request.
    assert data.teacher_calls == {0: 3, 1: 4, 2: 5}
    assert data.teacher_tokens[1] == 50 + 51 + 52 + 53
    assert [t.round for t in data.training] == [1, 2] and data.training[0].losses[0] == 3.0
    assert data.rounds == [0, 1, 2]
    assert {k: r.state for k, r in data.last_states().items()}["add"] == "mastered"
    assert data.tau_mastery == Config().rules.tau_mastery


def test_a_round_trained_again_after_a_kill_is_shown_once(tmp_path):
    run = make_run(tmp_path / "run", rounds=2)
    # Killed after round 2's event, before its checkpoint: the resumed run trains round 2 again.
    Tracer(run / "traces.jsonl").event(
        round=2, node="train", agent="trainer", kind="training", summary="again", steps=2, losses=[9.0, 8.0]
    )
    data = load_report_data(run)
    assert [(t.round, t.losses) for t in data.training] == [(1, [3.0, 2.0, 1.5, 1.0]), (2, [9.0, 8.0])]


def test_report_of_a_run_stopped_before_training(tmp_path):
    run_dir = make_run(tmp_path / "run", rounds=0)
    (run_dir / "plots").mkdir()
    (run_dir / "plots" / "loss.png").write_bytes(b"stale")
    page = write_report(run_dir)
    assert not (run_dir / "plots" / "loss.png").exists()
    assert "No data for this plot yet (loss)" in page.read_text()


def test_the_curriculum_plot_draws_every_module_state(tmp_path):
    # r11 of the main job ended with a `forgotten` module and wrote no report (KeyError: 'forgotten').
    assert set(STATE_COLOURS) == {*typing.get_args(ModuleState), "unknown"}
    run_dir = make_run(tmp_path / "run", rounds=1)
    states = ["forgotten", "beyond_teacher", "stuck", "mastered"]
    rows = [row | {"state": state} for row, state in zip(_mastery_rows(1), states, strict=True)]
    RunDir(run_dir).write_mastery_round(1, rows)
    write_report(run_dir)
    assert (run_dir / "plots" / "curriculum.png").read_bytes().startswith(PNG_MAGIC)


def test_curriculum_columns_follow_the_longest_prerequisite_chain():
    edges = [(p, k) for k, ps in MODULES.items() for p in ps]
    assert layers(list(MODULES), edges) == {"add": 0, "sub": 1, "mul": 1, "chain": 2}


def test_report_cli_writes_the_page_and_refuses_a_non_run(tmp_path):
    run_dir = make_run(tmp_path / "run", rounds=1)
    out = subprocess.run([sys.executable, "-m", "ioa", "report", str(run_dir)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(run_dir / "report.html")
    bad = subprocess.run([sys.executable, "-m", "ioa", "report", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 2 and "not an IOA run directory" in bad.stderr


def test_report_loads_in_headless_chromium_without_console_errors(tmp_path):
    page = write_report(make_run(tmp_path / "run", rounds=2))
    dom, console = open_in_chromium(page, tmp_path)
    assert console == []
    assert dom.count("<img") == len(PLOTS) and "IOA-Distill run" in dom


def test_chromium_check_does_catch_console_errors(tmp_path):
    # The check above is only worth something if a broken page fails it.
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><script>console.error("boom"); missingFn();</script></body></html>')
    _, console = open_in_chromium(bad, tmp_path)
    assert any("boom" in m for m in console) and any("missingFn" in m for m in console)


@pytest.mark.integration
def test_a_real_run_writes_its_report_when_it_finishes(small_run, tmp_path):
    run_dir, summary = small_run
    page = run_dir / "report.html"
    assert page.exists(), "ioa run must write report.html when it finishes"
    assert {p.stem for p in (run_dir / "plots").glob("*.png")} == PLOTS
    html = page.read_text()
    assert_self_contained(html)
    assert summary["run_id"] in html
    dom, console = open_in_chromium(page, tmp_path)
    assert console == []
    assert dom.count("<img") == len(PLOTS)
