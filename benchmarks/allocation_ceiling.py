"""Can any allocation of the teacher budget beat `uniform` on the bench? Fixed allocations against uniform.

Usage (from the repository root):

    .venv/bin/python benchmarks/allocation_ceiling.py [--seeds 3] [--cells MODULE:LEVEL,...] [--set KEY=VALUE ...]

Every allocation runs in `ioa bench`'s own trial harness (``ioa.bench.runner.run_trials``): the same initial
student per seed, the same budget of oracle worked solutions, the same training per example and the same
held-out probes as the bench's strategies, with the bench's settings (`--set` overrides them as on `ioa bench`).
The allocations are fixed in advance, so they need no measurement of the student:

- ``uniform``: the bench's baseline, measured again in the same run;
- ``level0``: the whole budget on every module's easiest level, which is where IOA's frontier spends it while
  no module passes the mastery gate;
- ``learnable``: the whole budget on ``--cells``, by default the three cells the tiny student learned fastest
  in isolation (`benchmarks/student_learnability.py`: counting legs, multiplication and gcd at level 0);
- ``cover-then-learnable``: half the budget as uniform, then half on ``--cells``.

``learnable`` knows what no strategy can know before teaching, so it bounds what a better allocation could
gain in this setting: if it does not beat uniform, the setting, not the method, caps the benchmark.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
from pathlib import Path
from statistics import fmean, stdev

from ioa.bench.runner import run_trials
from ioa.bench.strategies import uniform
from ioa.bench.student_vocab import domain_tokenizer
from ioa.bench.trial import Trial, spread
from ioa.config import load_config
from ioa.domains import get_domain
from ioa.student_train import Student
from ioa.student_train.model import TINY_TOKENIZER

ROUNDS = 4
"""Synthesis rounds of a concentrated allocation, as hard-first's (bench.rounds): replay works the same way."""
LEARNABLE = "word_problems/leg_counting:0,arithmetic/multiplication:0,number_theory/gcd:0"


def _rounds(trial: Trial, student: Student, cells: list[tuple[str, int]], total: int, first_round: int) -> None:
    for round_, share in spread(total, list(range(ROUNDS))).items():
        tasks = trial.exercises(spread(share, cells), first_round + round_)
        trial.train(student, trial.synthesize(tasks, first_round + round_))


def concentrated(trial: Trial, cells: list[tuple[str, int]], cover_share: float = 0.0) -> None:
    """``cover_share`` of the budget spread over every cell in one round, the rest on ``cells`` in rounds."""
    student = trial.new_student()
    cover = int(trial.budget * cover_share)
    if cover:
        every = [(m.id, lv) for m in trial.domain.modules for lv in range(m.levels)]
        trial.train(student, trial.synthesize(trial.exercises(spread(cover, every), 1), 1))
    _rounds(trial, student, cells, trial.budget - cover, 2)
    trial.evaluate(student)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="evaluation seeds 0 .. N-1, as `ioa bench --seeds`")
    parser.add_argument("--cells", default=LEARNABLE, help="MODULE:LEVEL,... for the concentrated allocations")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config KEY=VALUE")
    args = parser.parse_args()

    config = load_config(None, args.overrides)
    cells = [(module, int(level)) for module, level in (c.rsplit(":", 1) for c in args.cells.split(","))]
    domain = get_domain(config.bench.domain, 0)
    level0 = [(m.id, 0) for m in domain.modules]
    allocations = {
        "uniform": uniform,
        "level0": functools.partial(concentrated, cells=level0),
        "learnable": functools.partial(concentrated, cells=cells),
        "cover-then-learnable": functools.partial(concentrated, cells=cells, cover_share=0.5),
    }
    lr = config.bench.lrs[0]
    jobs = [(name, seed, lr) for seed in range(args.seeds) for name in allocations]
    records = {}
    with tempfile.TemporaryDirectory(prefix="ioa-allocation-") as tmp:
        tokenizer_dir = domain_tokenizer(domain, TINY_TOKENIZER, Path(tmp) / "tokenizer")
        for done, record in enumerate(run_trials(jobs, config, tokenizer_dir, procedures=allocations), 1):
            records[(record["strategy"], record["seed"])] = record
            print(
                f"[{done}/{len(jobs)}] {record['strategy']} seed {record['seed']}: {record['accuracy']:.3f}", flush=True
            )
    print(f"budget {config.bench.budget}, {config.bench.epochs} epochs, seeds 0-{args.seeds - 1}, cells {args.cells}")
    base = fmean(records[("uniform", s)]["accuracy"] for s in range(args.seeds))
    print(f"{'allocation':<22} {'held-out':>14} {'vs uniform':>11}  per seed")
    for name in allocations:
        accs = [records[(name, s)]["accuracy"] for s in range(args.seeds)]
        spread_ = stdev(accs) if len(accs) > 1 else 0.0
        per_seed = ", ".join(f"{a:.3f}" for a in accs)
        versus = f"{fmean(accs) / base - 1:>+10.1%}" if base else f"{'n/a':>10}"  # uniform learnt nothing
        print(f"{name:<22} {fmean(accs):.3f} ± {spread_:.3f} {versus}  {per_seed}")


if __name__ == "__main__":
    main()
