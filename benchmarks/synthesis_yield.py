"""What one synthesis wave of the embedded teacher can teach, per module of the words domain.

For each module, ``--seeds`` waves of the main job's synthesis requests go to the embedded teacher: mode new, the
module's first level with its stretch share one level up, as many requests as the teacher's concurrency, at the run's
temperature and completion cap, each wave leading with other items, and its stragglers cut as a run cuts them. Per
wave it prints the seconds, the exercises parsed, those the domain's checker verifies, and the distinct unit words
the verified ones ask about; then each module's medians.

The tiny student learns the words it is taught and no others (docs/main-job.md), so the last column is what a wave
can add to P_S: a unit has 12 words, and with P_T 0.75 a closed gap (P_S/P_T >= 0.6) needs 6 of them. The adapter
keeps fewer than the checker verifies (it also drops duplicates and exercises too big for the student's budget).

    .venv/bin/python benchmarks/synthesis_yield.py --modules plural/es,plural/ies,plural/irregular --seeds 2
"""

from __future__ import annotations

import argparse
import statistics
import time

from synthesis_derail import embedded_teacher, wave  # this folder is on the path of a script run from it

from ioa.config import load_config
from ioa.domains import get_domain
from ioa.teacher.exercises import parse_exercises
from ioa.teacher.wave import Wave


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", default="plural/es,plural/ies,plural/irregular", help="comma-separated ids")
    parser.add_argument("--seeds", type=int, default=2, help="waves per module (default 2)")
    args = parser.parse_args()
    config = load_config(None)
    domain = get_domain("words", 0)
    modules = args.modules.split(",")
    levels = {m.id: m.levels for m in domain.modules}
    unit_words = {m: {w for lv in range(levels[m]) for w in domain.lesson(m, lv).items} for m in modules}
    rows = []
    with embedded_teacher(config) as teacher:
        for seed in range(args.seeds):
            for module in modules:
                inputs, cap = wave(config, [module], draw=100 + seed)
                started = time.perf_counter()
                # As the teach node sends a step that is all in flight at once: its stragglers are cut when late.
                replies = teacher.run(
                    "synthesize_new",
                    inputs,
                    round=1,
                    node="teach",
                    temperature=teacher.cfg.temperature,
                    max_tokens=cap,
                    draw=f"{module}/{seed}",
                    wave=Wave(len(inputs)),
                )
                seconds = time.perf_counter() - started
                parsed = [e for p in replies if p is not None for e in parse_exercises(p.exercises)]
                verdicts = [domain.verify(module, e.problem, e.steps, e.answer) for e in parsed]
                verified = [v for v in verdicts if v.ok]
                # The word each verified exercise asks about, as the checker found it, if it is one of the unit's.
                words = sorted({v.entry["word"] for v in verified} & unit_words[module])
                rows.append(
                    {
                        "module": module,
                        "seconds": seconds,
                        "parsed": len(parsed),
                        "verified": len(verified),
                        "words": len(words),
                    }
                )
                print(
                    f"{module:<18} wave {seed}: {len(inputs)} requests, {seconds:5.1f} s, parsed {len(parsed):>3}, "
                    f"verified {len(verified):>3}, unit words {len(words):>2} {words}",
                    flush=True,
                )
    for module in modules:
        mine = [r for r in rows if r["module"] == module]
        medians = {k: statistics.median(r[k] for r in mine) for k in ("seconds", "parsed", "verified", "words")}
        print(f"{module:<18} median of {len(mine)}: " + ", ".join(f"{k} {v:g}" for k, v in medians.items()))


if __name__ == "__main__":
    main()
