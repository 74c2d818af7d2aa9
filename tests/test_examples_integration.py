"""Each shipped seed file, end to end for one round against the real local teacher server."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from conftest import SMALL

from ioa import run
from ioa.config import load_config
from ioa.domains.decomposition import DIFFICULTIES
from ioa.traces import read_traces

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ONE_ROUND = [
    *SMALL,
    "budget.max_rounds=1",
    # Few modules and short teacher replies keep each example to a few minutes on 2 cores.
    "domain.min_modules=2",
    "domain.max_modules=4",
    "teacher.max_tokens=64",
]


@pytest.mark.parametrize("name", ["instructions", "math_word_problems", "python_functions"])
def test_example_runs_one_round(name: str, tmp_path: Path) -> None:
    run_dir = tmp_path / name
    config = load_config(None, [*ONE_ROUND, f"domain.path={EXAMPLES / name}.jsonl"], environ={})
    summary = run(config, run_dir, progress=False)
    assert summary["status"] == "completed"

    saved = json.loads((run_dir / "data/decomposition.json").read_text())
    ids = [m["id"] for m in saved["modules"]]
    assert ids and all(len(i.split("/")) == 2 for i in ids)
    assert len(saved["assignment"]) == len(saved["seeds"]) and set(saved["assignment"]) == set(ids)
    assert {m["id"] for m in summary["modules"]} == set(ids)
    sources = saved["sources"]
    assert set(sources["modules_from_teacher"]) | set(sources["modules_from_fallback"]) == set(ids)
    # The real 135M teacher's skill descriptions give modules on every shipped example (README,
    # "Bring your own domain": 5 of 6, 7 of 7 and 6 of 6 modules from the teacher at the default budget).
    assert sources["modules_from_teacher"], sources["rejected_descriptions"]
    assert sources["assigned_by"].get("description", 0) > 0
    for m in saved["modules"]:
        assert re.fullmatch(r"[a-z0-9_]+/[a-z0-9_]+", m["id"]) and m["description"].strip()
        assert m["difficulty"] in DIFFICULTIES

    events = read_traces(run_dir / "traces.jsonl")
    [decomposition] = [e for e in events if e["kind"] == "decomposition"]
    assert "modules_from_teacher" in decomposition and "assigned_by" in decomposition
    assert any(e.get("program") == "describe_skill" for e in events)

    # P_T and P_S come from the same probes, the held-out seeds
    probes = [json.loads(line) for line in (run_dir / "data/probes.jsonl").read_text().splitlines()]
    held_out = {saved["seeds"][i]["instruction"] for i in saved["probes"]}
    assert probes and all(p["entry"]["instruction"] in held_out for p in probes)
    rows = list(csv.DictReader((run_dir / "mastery.csv").open()))
    assert {r["module"] for r in rows if r["round"] == "0"} == set(ids)
