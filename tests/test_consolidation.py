"""Consolidation (`training.consolidation_epochs`): epochs kept back from every round, spent on all that was taught."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from ioa.agents.routes import route_after_plan
from ioa.bench.graph_run import run_ioa
from ioa.bench.options import QUICK
from ioa.bench.oracle import OracleTeacher, TaskBook
from ioa.bench.runner import trial_config
from ioa.bench.trial import CappedTeacher, Trial
from ioa.config import Config, TrainingConfig, load_config
from ioa.domains import get_domain
from ioa.errors import UsageError
from ioa.rundir import RunDir
from ioa.state import IOAState
from ioa.student_train import load_student
from ioa.student_train.node import consolidate_taught
from ioa.student_train.train import round_epochs
from ioa.traces import Tracer, read_traces


@pytest.fixture(scope="module")
def consolidated(tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory, one_thread) -> tuple[Trial, Path]:
    """The real graph in a --quick bench trial (oracle teacher, tiny student), with the default: half of --quick's
    8 epochs kept back."""
    config = trial_config(load_config(None, QUICK, environ={}), seed=0, lr=1e-3)
    book = TaskBook(get_domain(config.bench.domain, 0))  # the bench's domain, which the oracle answers
    work = tmp_path_factory.mktemp("consolidation")
    trial = Trial(config, book, CappedTeacher(OracleTeacher(book), config.bench.budget), tokenizer_dir, work)
    run_ioa(trial, config)
    return trial, work / "run"


def _epochs(run_dir: Path, round_: int) -> tuple[int, int]:
    hparams = json.loads((run_dir / f"student/round_{round_}/hparams.json").read_text())
    return hparams["epochs"], hparams["examples"]


@pytest.mark.integration  # the real graph in a bench trial
def test_rounds_train_their_batch_for_the_epochs_not_kept_back(consolidated):
    trial, run_dir = consolidated
    *rounds, last = json.loads((run_dir / "summary.json").read_text())["training"]
    assert rounds and all("consolidation" not in r for r in rounds)
    for r in rounds:
        assert _epochs(run_dir, r["round"]) == (trial.config.training.epochs // 2, r["examples"] + r["replay"])


@pytest.mark.integration  # the real graph in a bench trial
def test_consolidation_trains_once_over_everything_taught_then_the_student_is_diagnosed(consolidated):
    trial, run_dir = consolidated
    summary = json.loads((run_dir / "summary.json").read_text())
    *rounds, last = summary["training"]
    taught = sum(r["examples"] for r in rounds)
    kept = trial.config.training.epochs // 2
    assert last["consolidation"] == taught and _epochs(run_dir, last["round"]) == (kept, taught)
    assert summary["student"]["checkpoint"] == f"student/round_{last['round']}"
    # The final scores are the consolidated student's: a diagnosis follows it, then the run finishes.
    nodes = [
        (e["node"], e["round"]) for e in read_traces(run_dir / "traces.jsonl") if e["kind"] in ("training", "diagnosis")
    ]
    assert nodes[-2:] == [("consolidate", last["round"]), ("diagnose", last["round"])]
    assert summary["rounds"] == last["round"]


@pytest.mark.integration  # the real graph in a bench trial
def test_every_example_is_trained_as_often_as_without_consolidation(consolidated):
    trial, run_dir = consolidated
    *rounds, _ = json.loads((run_dir / "summary.json").read_text())["training"]
    epochs = trial.config.training.epochs
    # New examples: half their epochs in their round, the other half in consolidation; replayed ones only in the
    # round.
    assert trial.passes == sum(epochs * r["examples"] + (epochs - epochs // 2) * r["replay"] for r in rounds)


def test_consolidation_that_leaves_a_round_no_epoch_is_refused(tokenizer_dir: Path) -> None:
    student = load_student(load_config(None, QUICK[:4], environ={}).student, tokenizer_dir)
    assert round_epochs(student, TrainingConfig(epochs=3, consolidation_epochs=2), 40) == 1
    with pytest.raises(UsageError, match="training.consolidation_epochs=3 leaves no epoch of 3"):
        round_epochs(student, TrainingConfig(epochs=3, consolidation_epochs=3), 40)


def test_by_default_half_the_epochs_are_kept_back(tokenizer_dir: Path) -> None:
    assert TrainingConfig().kept_back(12) == 6 and TrainingConfig().kept_back(3) == 1
    assert TrainingConfig().kept_back(1) == 0 and not TrainingConfig(epochs=1).consolidates
    assert TrainingConfig(epochs=5, consolidation_epochs=2).kept_back(5) == 2
    assert TrainingConfig().consolidates and not TrainingConfig(consolidation_epochs=0).consolidates
    # The tiny student's unset epochs are 12: 6 in the round (or more, for SCRATCH_STEPS), 6 in consolidation.
    student = load_student(load_config(None, QUICK[:4], environ={}).student, tokenizer_dir)
    assert round_epochs(student, TrainingConfig(), 10_000) == 6


def test_a_finishing_run_consolidates_once_and_only_when_epochs_were_kept_back() -> None:
    def route(consolidation_epochs: int | None, **state) -> str:
        config = Config.model_validate({"training": {"consolidation_epochs": consolidation_epochs}})
        runtime = SimpleNamespace(context=SimpleNamespace(config=config))
        return route_after_plan(IOAState(next="finish", **state), runtime)  # type: ignore[arg-type]

    assert route(None, trained_files=["round_1.jsonl"]) == "consolidate"
    assert route(None, trained_files=["round_1.jsonl"], consolidated=True) == "finish"
    assert route(0, trained_files=["round_1.jsonl"]) == "finish"
    assert route(None, trained_files=[]) == "finish"  # nothing was taught


def test_consolidation_with_no_example_taught_is_skipped_and_done(tmp_path: Path) -> None:
    # Teaching can end with every adapted example rejected: the files exist but hold nothing to train on.
    (tmp_path / "data").mkdir()
    (tmp_path / "data/round_1_adapted_0.jsonl").write_text("")
    svc = SimpleNamespace(run_dir=RunDir(tmp_path), tracer=Tracer(tmp_path / "traces.jsonl"), config=Config())
    state = IOAState(round=1, trained_files=["data/round_1_adapted_0.jsonl"])
    assert consolidate_taught(state, SimpleNamespace(context=svc)) == {"consolidated": True}  # type: ignore[arg-type]
    [event] = read_traces(tmp_path / "traces.jsonl")
    assert (event["node"], event["kind"], event["round"]) == ("consolidate", "skip", 2)
