"""`ioa bench`: the oracle teacher, the equal-budget harness, the ablation switches and a --quick run end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ioa import rules
from ioa.bench.oracle import OracleTeacher, TaskBook
from ioa.bench.strategies import STRATEGIES
from ioa.bench.trial import CappedTeacher, spread
from ioa.config import Config, load_config
from ioa.domains import get_domain
from ioa.domains.steps import expression_steps, worked_steps
from ioa.graph.ablations import verbatim_target


@pytest.fixture(scope="module")
def domain():
    return get_domain("arithmetic", 0)


def test_oracle_solutions_are_verified_by_the_domain_checker(domain):
    for spec in domain.modules:
        for level in range(spec.levels):
            for task in domain.exercises(spec.id, level, 15, seed=3):
                steps = worked_steps(task)
                assert steps.strip()
                # The last step reaches the reference answer, and so does the whole solution as a student target.
                assert domain.score(task, steps.splitlines()[-1]) == 1.0, (task.question, steps)
                assert domain.score(task, verbatim_target(steps, task.answer)) == 1.0


def test_expression_steps_follow_the_order_of_operations():
    assert expression_steps("7 + 4 - 6") == ["7 + 4 = 11", "11 - 6 = 5"]
    assert expression_steps("-3 - 5 * -6") == ["5 * -6 = -30", "-3 - -30 = 27"]
    assert expression_steps("( 1 + 9 )") == ["1 + 9 = 10"]
    assert expression_steps("8 / 2 * 3") == ["8 / 2 = 4", "4 * 3 = 12"]  # reasoning-gym divides exactly
    with pytest.raises(ValueError, match="cannot write steps"):
        expression_steps("3 / 2")


def test_oracle_has_the_teacher_interface_and_answers_from_the_book(domain):
    book = TaskBook(domain)
    probes = book.probes("arithmetic/addition", 3, seed=1)
    teacher = OracleTeacher(book)
    before = teacher.snapshot()
    done = []
    out = teacher.run(
        "answer_probe",
        [{"question": t.question} for t in probes],
        round=0,
        node="identify",
        on_done=lambda: done.append(1),
    )
    assert [p.answer for p in out] == [t.answer for t in probes]
    assert len(done) == 3 and teacher.usage_since(before) == {"teacher_calls": 3}


def test_capped_teacher_never_synthesizes_past_the_budget(domain):
    book = TaskBook(domain)
    tasks = book.exercises("arithmetic/addition", 0, 7, seed=2)
    capped = CappedTeacher(OracleTeacher(book), budget=5)
    items = [{"skill": "add", "exercise": t.question} for t in tasks]
    first = capped.run("worked_solution", items[:4], round=1, node="teach")
    second = capped.run("worked_solution", items[4:], round=2, node="teach")
    assert all(p is not None for p in first) and [p is not None for p in second] == [True, False, False]
    assert capped.spent == 5 and capped.by_round == {1: 4, 2: 5}
    assert capped.snapshot()["calls"] == 5
    # A synthesis request counts the exercises it was granted, so a graph's teacher-call budget ends with it.
    synthesis = CappedTeacher(OracleTeacher(book), budget=12)
    request = {"skill": "arithmetic/addition (Addition): add", "level": "level 1 of 3", "count": 5}
    synthesis.run("synthesize_new", [request] * 3, round=1, node="teach")
    assert synthesis.spent == 12 and synthesis.snapshot()["calls"] == 12
    assert synthesis.run("synthesize_new", [request], round=2, node="teach") == [None]
    # Probe answers are measurement, not synthesis: never capped. The identify node's (P_T) count against the
    # graph's teacher budget; the adapter's self-consistency solves are checks, not material, and do not.
    probe = [{"question": tasks[0].question}] * 3
    assert capped.run("answer_probe", probe, round=3, node="adapt")[2] is not None
    assert capped.snapshot()["calls"] == 5
    capped.run("answer_probe", probe, round=0, node="identify")
    assert capped.snapshot()["calls"] == 5 + 3


def test_capped_teacher_grants_the_budget_once_to_batches_asking_at_the_same_time(domain):
    """A teach step's batches ask from several threads at once, each while the others' teacher is still writing."""

    class SlowOracle(OracleTeacher):
        def answer(self, name, inputs, request):  # noqa: ANN001, ANN202
            time.sleep(0.2)  # every batch is in flight before any returns
            return super().answer(name, inputs, request)

    capped = CappedTeacher(SlowOracle(TaskBook(domain)), budget=12)
    request = {"skill": "arithmetic/addition (Addition): add", "level": "level 1 of 3", "count": 5}
    results: list[list] = []
    batches = [
        threading.Thread(
            target=lambda: results.append(capped.run("synthesize_new", [request] * 2, round=1, node="teach"))
        )
        for _ in range(4)
    ]
    for batch in batches:
        batch.start()
    for batch in batches:
        batch.join()
    granted = sum(p is not None for out in results for p in out)
    assert capped.spent == 12 and capped.by_round == {1: 12} and granted == 3  # 5 + 5 + 2, whoever asked first


def test_spread_is_exact_and_proportional():
    assert sum(spread(320, list(range(24))).values()) == 320
    assert spread(10, ["a", "b"], [3.0, 1.0]) == {"a": 8, "b": 2}  # 7.5 / 2.5: ties go to the first key
    assert spread(5, ["a", "b"], [0.0, 0.0]) == {"a": 3, "b": 2}


def test_default_domain_has_real_prerequisite_structure(domain):
    specs = {m.id: m for m in domain.modules}
    assert len(specs) >= 8
    assert set(specs["arithmetic/mixed_operations"].prerequisites) >= {
        "arithmetic/chain_sum",
        "arithmetic/multiplication",
    }
    edges = [(p, m) for m in specs for p in specs[m].prerequisites]
    stages = rules.layer_stages(list(specs), edges)
    assert len(stages) >= 3 and stages[0] == ["arithmetic/addition"]


def test_ablation_switches_default_on_and_strategies_are_registered():
    assert Config().ablation.model_dump() == {"identifier": True, "organizer": True, "adapter": True}
    assert load_config(None, ["ablation.adapter=false"], environ={}).ablation.adapter is False
    assert set(Config().bench.strategies) == set(STRATEGIES)
    assert Config().bench.seeds >= 3


def test_trials_take_the_bench_settings_and_hold_practice_off_unless_every_strategy_gets_it():
    from ioa.bench.runner import trial_config

    config = Config.model_validate({"adapter": {"checker_practice_per_example": 5}})
    trial = trial_config(config, 1, 5e-4)
    assert trial.adapter.checker_practice_per_example == 0
    assert (trial.student.init_seed, trial.training.lr, trial.training.epochs) == (1, 5e-4, config.bench.epochs)
    assert trial.rules.schedule == config.bench.schedule == "frontier" != config.rules.schedule
    assert trial.domain.probes_per_module == config.bench.diagnostic_probes_per_module
    on = config.model_copy(update={"bench": config.bench.model_copy(update={"practice": True})})
    assert trial_config(on, 1, 5e-4).adapter.checker_practice_per_example == 5


def test_a_trials_training_items_diagnostic_probes_and_held_out_items_are_disjoint(domain, tmp_path):
    """What every strategy trains on (the generator exercises, the oracle's synthesized ones), what IOA and
    hard-first measure the student on, and what the bench scores: three disjoint sets, and the held-out items are
    drawn afresh for each seed."""
    from ioa.bench.runner import trial_config
    from ioa.bench.trial import Trial

    def trial(seed: int) -> Trial:
        config = trial_config(load_config(None, ["bench.diagnostic_probes_per_module=12"], environ={}), seed, 1e-3)
        book = TaskBook(domain)
        return Trial(config, book, CappedTeacher(OracleTeacher(book), 10_000), tmp_path, tmp_path)

    first = trial(0)
    held_out = {t.question for t in first.held_out_probes()}
    diagnostic = {t.question for t in first.diagnostic_probes()}
    # 100 per module; the smallest levels (single-digit sums) have fewer distinct held-out questions, and repeat.
    assert len(first.held_out_probes()) == 100 * len(domain.modules) and len(held_out) > 600
    cells = {(m.id, lv): 10 for m in domain.modules for lv in range(m.levels)}
    trained = {t.question for r in range(1, 5) for t in first.exercises(cells, r)}
    request = {"skill": "number_theory/gcd (GCD): ...", "level": "level 2 of 3", "count": 10}
    written = first.teacher.run("synthesize_new", [request] * 3, round=1, node="teach", temperature=0.0)
    trained |= {line[len("Problem: ") :] for w in written for line in w.exercises.splitlines() if "Problem:" in line}
    assert not held_out & diagnostic and not trained & (held_out | diagnostic)
    assert held_out != {t.question for t in trial(1).held_out_probes()}


def test_every_round_based_strategy_gets_the_graphs_recipe(domain, tmp_path, monkeypatch):
    """Each round trains its epochs less the half kept back, with a share of every earlier example drawn each
    epoch, and consolidation spends the kept-back epochs over everything taught: passes and steps are counted."""
    from types import SimpleNamespace

    from ioa.bench import trial as trial_module
    from ioa.bench.runner import trial_config
    from ioa.bench.trial import Trial

    fits = []

    def fake_train(student, data, cfg, out_dir, replay=None):
        pool = [e.prompt for e in replay.pool] if replay else []
        fits.append((out_dir.name, cfg.epochs, [e.prompt for e in data], pool, replay.per_epoch if replay else 0))
        return SimpleNamespace(steps=cfg.epochs * (len(data) + min(len(pool), fits[-1][4])))

    monkeypatch.setattr(trial_module, "train_student", fake_train)
    config = trial_config(load_config(None, ["training.replay_fraction=0.5"], environ={}), 0, 1e-3)
    book = TaskBook(domain)
    trial = Trial(config, book, CappedTeacher(OracleTeacher(book), 100), tmp_path, tmp_path)
    add = trial.synthesize(trial.exercises({("arithmetic/addition", 0): 4}, 1), 1)
    trial.train(None, add)
    more = trial.synthesize(trial.exercises({("arithmetic/addition", 1): 2, ("arithmetic/subtraction", 0): 2}, 2), 2)
    trial.train(None, more)
    sub = trial.synthesize(trial.exercises({("arithmetic/subtraction", 1): 4}, 3), 3)
    trial.train(None, sub)
    trial.consolidate(None)
    epochs, kept = config.bench.epochs, config.bench.epochs // 2
    assert [(name, e) for name, e, *_ in fits] == [
        ("round_1", epochs - kept),
        ("round_2", epochs - kept),
        ("round_3", epochs - kept),
        ("consolidate", kept),
    ]
    prompts = [[e.prompt for e in batch] for batch in (add, more, sub)]
    # Half replay: as many drawn per epoch as there are new examples, from everything earlier.
    assert [(f[2], f[3], f[4]) for f in fits[:3]] == [
        (prompts[0], [], 0),
        (prompts[1], prompts[0], 4),
        (prompts[2], prompts[0] + prompts[1], 4),
    ]
    assert sorted(fits[3][2]) == sorted(e.prompt for e in add + more + sub)
    assert trial.passes == trial.steps == (epochs - kept) * (4 + 8 + 8) + kept * 12


def test_the_warm_student_knows_a_seed_chosen_part_of_the_domain(domain):
    """What the warm student is first taught depends on the seed alone: some modules wholly, some in part, some not
    at all, so a diagnosis has something to find; the material is the oracle's worked solutions, never a probe."""
    from ioa.bench.students import known_levels, warm_examples

    levels = {seed: known_levels(domain, seed) for seed in range(4)}
    assert levels[0] == known_levels(domain, 0) and len({tuple(v.values()) for v in levels.values()}) == 4
    spans = {m.id: m.levels for m in domain.modules}
    assert all(0 <= k <= spans[m] for v in levels.values() for m, k in v.items())
    assert {k for v in levels.values() for k in v.values()} >= {0, 3}  # unknown and wholly known modules occur
    examples = warm_examples(domain, 0, 5)
    assert len(examples) == 5 * sum(levels[0].values())
    assert all("\nAnswer: " in e.target for e in examples)  # worked steps, then the answer
    assert not any(domain.is_probe_question(e.prompt) for e in examples)


def test_a_warm_student_is_trained_once_per_seed_and_shared_across_learning_rates(
    domain, tokenizer_dir, tmp_path, monkeypatch
):
    """The warm-up is the costliest part of a warm trial: every strategy of a seed (whatever learning rate the
    search gave it) and a resumed bench reuse the one folder; another seed trains its own."""
    from ioa.bench import students as students_module
    from ioa.bench.options import QUICK
    from ioa.bench.runner import trial_config

    trained = []
    real = students_module.train_student

    def counting(student, examples, cfg, out_dir):
        trained.append(cfg.lr)
        return real(student, examples, cfg.model_copy(update={"epochs": 1}), out_dir)

    monkeypatch.setattr(students_module, "train_student", counting)
    base = load_config(None, [*QUICK, "bench.student=warm", "bench.warm_per_level=2"], environ={})
    folders = set()
    for seed, lr in [(0, 1e-3), (0, 3e-3), (0, 1e-3), (1, 1e-3)]:
        config = students_module.initial_student(trial_config(base, seed, lr), domain, tokenizer_dir, tmp_path)
        folders.add(config.student.model)
        assert config.student.finetune == "full" and (Path(config.student.model) / "config.json").is_file()
    # Two seeds, two warm-ups, at the student's default rate; no half-written folder is left behind.
    assert trained == [None, None] and len(folders) == 2
    assert sorted(p.name.split("_")[1] for p in tmp_path.iterdir()) == ["0", "1"]


def _addition_only(trial) -> None:
    """A procedure of the test's own: five worked solutions of addition level 0, one training round."""
    student = trial.new_student()
    trial.train(student, trial.synthesize(trial.exercises({("arithmetic/addition", 0): 5}, 1), 1))
    trial.consolidate(student)
    trial.evaluate(student)


def test_run_trials_runs_a_given_procedure_in_the_bench_harness(tokenizer_dir, one_thread):
    from ioa.bench.options import QUICK
    from ioa.bench.runner import run_trials

    config = load_config(None, [*QUICK, "bench.workers=1"])
    jobs = [("addition-only", 0, 1e-3)]
    [record] = run_trials(jobs, config, tokenizer_dir, procedures={"addition-only": _addition_only})
    assert (record["strategy"], record["seed"], record["synthesized"]) == ("addition-only", 0, 5)
    assert record["train_passes"] == 5 * config.bench.epochs
    assert [spent for spent, _ in record["curve"]] == [5]
    assert set(record["per_module"]) == {m.id for m in get_domain("arithmetic", 0).modules}


def test_bench_refuses_unknown_strategies(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "ioa", "bench", "--strategies", "ioa,nonsense", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "strategies.1" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.integration  # a real `ioa bench --quick` in worker processes
def test_quick_bench_writes_results_at_equal_budget(tmp_path):
    out_dir: Path = tmp_path / "bench"
    done = subprocess.run(
        [sys.executable, "-m", "ioa", "bench", "--quick", "--seeds", "2", "--out", str(out_dir)],
        capture_output=True,
        text=True,
        timeout=1800,  # minutes on an idle 2-core machine; generous for a shared one
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads((out_dir / "results.json").read_text())
    records = data["records"]
    strategies = set(Config().bench.strategies)
    assert {(r["strategy"], r["seed"]) for r in records} == {(s, seed) for s in strategies for seed in (0, 1)}
    budget = data["settings"]["budget"]
    for r in records:
        # The equal-budget invariant: every strategy may synthesize the budget, and none ever exceeds it.
        assert 0 < r["synthesized"] <= budget
        assert 0.0 <= r["accuracy"] <= 1.0 and set(r["per_module"]) == {
            m.id for m in get_domain("arithmetic", 0).modules
        }
        assert r["curve"] and r["curve"][-1][0] == r["synthesized"] and r["train_passes"] > 0
    # The baselines spend exactly the budget by construction.
    assert {r["synthesized"] for r in records if r["strategy"] in ("uniform", "hard-first", "curriculum-no-gate")} == {
        budget
    }
    # It measures something: a student that learnt nothing scores 0 on every module.
    assert max(r["accuracy"] for r in records) > 0
    assert all(r["eval_cap"] > 24 and 0 <= r["cap_hit_share"] <= 1 and len(r["held_out"]) == 6 * 8 for r in records)
    table = (out_dir / "results.md").read_text()
    assert all(f"| {s} |" in table for s in strategies)
    # A rule of the fair protocol the run breaks is said where a user reads the results.
    for breach in data["protocol_breaches"]:
        assert f"protocol not met: {breach}" in done.stdout and breach in table
    assert (out_dir / "accuracy_vs_budget.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.integration  # a real bench and its workers, killed
def test_killed_bench_leaves_no_worker_behind(tmp_path):
    """SIGKILL runs no cleanup; the pool workers must notice their parent is gone and exit on their own."""
    import signal
    import time

    import psutil

    bench = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ioa",
            "bench",
            "--quick",
            "--strategies",
            "uniform",
            "--seeds",
            "2",
            "--out",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parent = psutil.Process(bench.pid)
    deadline = time.monotonic() + 300
    workers: list[psutil.Process] = []
    while len(workers) < 2 and time.monotonic() < deadline and bench.poll() is None:
        workers = [p for p in parent.children() if "spawn_main" in " ".join(p.cmdline())]
        time.sleep(0.5)
    assert len(workers) == 2, "the bench never started its 2 workers"
    bench.send_signal(signal.SIGKILL)
    bench.wait()
    # Generous: a worker still importing its modules on a loaded CI machine starts its watch only after.
    gone, alive = psutil.wait_procs(workers, timeout=120)
    assert not alive, f"orphaned bench workers: {[p.pid for p in alive]}"


def test_the_paired_bootstrap_interval_holds_the_difference_and_narrows_with_items():
    from ioa.bench.results import paired_bootstrap

    same = paired_bootstrap({0: [1.0] * 50, 1: [0.0] * 50}, {0: [0.0] * 50, 1: [0.0] * 50})
    assert same["difference"] == 0.5 and same["ci95_low"] <= 0.5 <= same["ci95_high"] and same["seeds"] == 2
    constant = paired_bootstrap({0: [1.0] * 20, 1: [1.0] * 20}, {0: [0.0] * 20, 1: [0.0] * 20})
    assert constant["ci95_low"] == constant["ci95_high"] == 1.0

    def noisy(n: int) -> dict[str, float]:
        ours = {s: [float((i * 7 + s) % 3 == 0) for i in range(n)] for s in range(3)}
        theirs = {s: [float((i * 5 + s) % 4 == 0) for i in range(n)] for s in range(3)}
        return paired_bootstrap(ours, theirs)

    small, large = noisy(20), noisy(400)
    assert large["ci95_high"] - large["ci95_low"] < small["ci95_high"] - small["ci95_low"]


def test_ioa_gain_is_relative_to_the_best_baseline_and_paired_by_seed():
    from ioa.bench.results import ioa_gain, summarize

    accuracy = {("ioa", 0): 0.30, ("ioa", 1): 0.20, ("uniform", 0): 0.20, ("uniform", 1): 0.20, ("hard-first", 0): 0.1}
    rest = {"examples_to_mastery": {}, "synthesized": 1, "train_passes": 1, "wall_s": 1.0, "lr": 1e-3}
    records = [{"strategy": s, "seed": seed, "accuracy": a, **rest} for (s, seed), a in accuracy.items()]
    gain = ioa_gain(summarize(records), records)
    assert gain["best_baseline"] == "uniform"
    assert gain["relative_gain"] == pytest.approx(0.25)
    assert gain["differences"] == pytest.approx([0.10, 0.0])
    assert gain["difference_std"] == pytest.approx(0.0707, abs=1e-4)


def test_results_name_each_fairness_rule_they_break():
    from ioa.bench.results import protocol_breaches, summarize

    def record(strategy: str, cut: float, passes: int, steps: int) -> dict:
        rest = {"examples_to_mastery": {}, "synthesized": 1, "wall_s": 1.0, "lr": 1e-3, "accuracy": 0.1, "seed": 0}
        return {"strategy": strategy, "cap_hit_share": cut, "train_passes": passes, "train_steps": steps, **rest}

    fair = [record("ioa", 0.01, 3800, 249), record("uniform", 0.0, 3840, 240)]
    assert protocol_breaches(summarize(fair)) == []
    unfair = [record("ioa", 0.02, 3440, 249), record("uniform", 0.0, 3840, 240)]
    cap, passes = protocol_breaches(summarize(unfair))
    assert "cap cut more than 1%" in cap and "ioa 2.0%" in cap and "uniform" not in cap
    assert passes.startswith("training passes differ") and "ioa 3440" in passes
