"""A stopped bench resumes: finished trials live in OUT/trials.jsonl and are not run again."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ioa.bench.options import with_options
from ioa.bench.trial_log import TrialLog
from ioa.config import Config, load_config
from ioa.errors import UsageError


def _with_bench(**update) -> Config:
    return Config().model_copy(update={"bench": Config().bench.model_copy(update=update)})


def _record(strategy: str, seed: int, lr: float = 1e-3) -> dict:
    return {"strategy": strategy, "seed": seed, "lr": lr, "accuracy": 0.25}


def test_log_keeps_finished_trials_and_survives_a_torn_last_line(tmp_path):
    log = TrialLog.open(tmp_path, Config())
    assert log.records() == {}
    log.append(_record("uniform", 0))
    log.append(_record("ioa", 0))
    with log.path.open("a") as fh:  # a kill in the middle of a write
        fh.write('{"strategy": "ioa", "se')
    again = TrialLog.open(tmp_path, Config())
    assert set(again.records()) == {("uniform", 0, 1e-3), ("ioa", 0, 1e-3)}
    again.append(_record("ioa", 1))  # lands on its own line, not glued to the torn one
    assert set(TrialLog.open(tmp_path, Config()).records()) == {
        ("uniform", 0, 1e-3),
        ("ioa", 0, 1e-3),
        ("ioa", 1, 1e-3),
    }


def test_more_seeds_strategies_or_lrs_reuse_the_log_but_other_settings_are_refused(tmp_path):
    TrialLog.open(tmp_path, Config()).append(_record("uniform", 0))
    wider = _with_bench(seeds=5, first_seed=3, strategies=["uniform"], workers=1, lrs=[1e-3, 2e-3])
    assert set(TrialLog.open(tmp_path, wider).records()) == {("uniform", 0, 1e-3)}
    other = _with_bench(budget=48)
    with pytest.raises(UsageError, match=r"other settings \(bench\.budget: 320 there, 48 now\)"):
        TrialLog.open(tmp_path, other)


def test_first_seed_shifts_the_evaluation_seeds_but_never_onto_the_tuning_seed():
    assert list(Config().bench.evaluation_seeds) == [0, 1, 2]
    assert list(_with_bench(seeds=3, first_seed=3).bench.evaluation_seeds) == [3, 4, 5]
    [tune] = Config().bench.tune_seeds
    refused = rf"include \[{tune}\], the learning-rate search's tuning seeds"
    with pytest.raises(UsageError, match=refused):  # --set, before anything runs
        load_config(overrides=[f"bench.first_seed={tune - 1}"])
    with pytest.raises(UsageError, match=refused):  # --seeds on top of a first seed
        with_options(load_config(overrides=["bench.first_seed=90"]), seeds=20)


def _bench(out, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ioa", "bench", "--quick", "--strategies", "uniform", "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.integration  # two real benches in subprocesses
def test_a_second_bench_in_the_same_out_runs_only_the_new_trials(tmp_path):
    first = _bench(tmp_path, "--seeds", "1")
    assert first.returncode == 0, first.stderr[-2000:]
    [seed0] = json.loads((tmp_path / "results.json").read_text())["records"]

    second = _bench(tmp_path, "--seeds", "2")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "1 of 2 trials already in" in second.stderr and "[2/2] uniform" in second.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    records = results["records"]
    assert [r["seed"] for r in records] == [0, 1] and results["resumed"] == 1
    assert "(trials resumed from trials.jsonl: 1, not included)" in (tmp_path / "results.md").read_text()
    assert records[0] == seed0  # reused as it was, not trained again
    assert len((tmp_path / "trials.jsonl").read_text().splitlines()) == 2

    refused = _bench(tmp_path, "--seeds", "2", "--budget", "40")
    assert refused.returncode == 2 and "other settings (bench.budget: 48 there, 40 now)" in refused.stderr
    assert "Traceback" not in refused.stderr
