"""The benchmark's outputs: results.json (one record per strategy x seed), results.md (a table), a plot."""

from __future__ import annotations

import random
from pathlib import Path
from statistics import fmean, stdev
from typing import Any

from ioa.bench.strategies import BASELINES
from ioa.rundir import atomic_write, write_json


def summarize(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per strategy: mean and std of held-out accuracy over seeds, mastery counts, budget spent, wall time."""
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r["strategy"] for r in records):
        rs = [r for r in records if r["strategy"] == name]
        acc = [r["accuracy"] for r in rs]
        reached = [v for r in rs for v in r["examples_to_mastery"].values() if v is not None]
        out[name] = {
            "seeds": len(rs),
            "accuracy_mean": fmean(acc),
            "accuracy_std": stdev(acc) if len(acc) > 1 else 0.0,
            "synthesized_mean": fmean(r["synthesized"] for r in rs),
            "train_passes_mean": fmean(r["train_passes"] for r in rs),
            "train_steps_mean": fmean(r.get("train_steps", 0) for r in rs),
            # Held-out answers the evaluation cap cut off: a fair cap keeps this at or below 1% for every strategy.
            "cap_hit_share_mean": fmean(r.get("cap_hit_share", 0.0) for r in rs),
            "modules_mastered_mean": fmean(sum(v is not None for v in r["examples_to_mastery"].values()) for r in rs),
            "examples_to_mastery_mean": fmean(reached) if reached else None,
            "wall_s_mean": fmean(r["wall_s"] for r in rs),
            "lr": rs[0]["lr"],
        }
    return out


def ioa_gain(summary: dict[str, dict[str, Any]], records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """IOA's relative held-out gain over the best baseline present, averaged over seeds.

    ``differences`` pairs the two on each seed both ran (IOA minus baseline): every strategy starts a seed
    from the same student, so the paired spread says whether a gain stands out from seed-to-seed noise.
    """
    baselines = {k: v["accuracy_mean"] for k, v in summary.items() if k in BASELINES}
    if "ioa" not in summary or not baselines:
        return None
    best = max(baselines, key=baselines.get)
    ref = baselines[best]
    gain = (summary["ioa"]["accuracy_mean"] - ref) / ref if ref > 0 else None
    by_seed = {name: {r["seed"]: r["accuracy"] for r in records if r["strategy"] == name} for name in ("ioa", best)}
    differences = [by_seed["ioa"][s] - by_seed[best][s] for s in sorted(by_seed["ioa"].keys() & by_seed[best].keys())]
    return {
        "best_baseline": best,
        "best_baseline_accuracy": ref,
        "relative_gain": gain,
        "differences": differences,
        "difference_std": stdev(differences) if len(differences) > 1 else None,
    }


CAP_HIT_LIMIT = 0.01
"""Most held-out answers the evaluation cap may cut, per strategy, for the cap to count as fitting every strategy."""
RECIPE_SPREAD = 0.05
"""Most relative spread of training passes, and of optimizer steps, between strategies for one recipe."""


def protocol_breaches(summary: dict[str, dict[str, Any]]) -> list[str]:
    """What the results break of the bench's fairness rules, one line each (none: every rule holds).

    A comparison is only as fair as these: an evaluation cap that cuts one strategy's answers scores its format,
    not its knowledge; training passes or steps far apart compare training compute, not what was taught.
    """
    out = []
    cut = {k: v["cap_hit_share_mean"] for k, v in summary.items() if v["cap_hit_share_mean"] > CAP_HIT_LIMIT}
    if cut:
        shares = ", ".join(f"{k} {100 * v:.1f}%" for k, v in cut.items())
        out.append(
            f"the evaluation cap cut more than {100 * CAP_HIT_LIMIT:.0f}% of held-out answers ({shares}): scores "
            "there partly measure answers that never ended (raise bench.max_new_tokens, or train longer)"
        )
    for what, key in (("training passes", "train_passes_mean"), ("optimizer steps", "train_steps_mean")):
        values = {k: v[key] for k, v in summary.items()}
        low, high = min(values.values(), default=0), max(values.values(), default=0)
        if high > 0 and (high - low) / high > RECIPE_SPREAD:
            spread_ = ", ".join(f"{k} {v:.0f}" for k, v in values.items())
            out.append(f"{what} differ by more than {100 * RECIPE_SPREAD:.0f}% between strategies ({spread_})")
    return out


BOOTSTRAP = 1000
"""Resamples of the paired bootstrap."""


def paired_bootstrap(
    ours: dict[int, list[float]], theirs: dict[int, list[float]], resamples: int = BOOTSTRAP, seed: int = 0
) -> dict[str, float]:
    """Mean of ``ours`` minus ``theirs`` on held-out items, with a 95% interval from resampling seeds and, within
    each drawn seed, its items: both sources of chance a new question and a new student would bring.

    ``ours[s]`` and ``theirs[s]`` are item scores of seed ``s`` in the same item order (a seed's held-out draw is
    the same for every strategy), so each item is compared with itself.
    """
    seeds = sorted(ours.keys() & theirs.keys())
    diffs = {s: [a - b for a, b in zip(ours[s], theirs[s], strict=True)] for s in seeds}
    rng = random.Random(seed)
    means = []
    for _ in range(resamples):
        drawn = [diffs[rng.choice(seeds)] for _ in seeds]
        means.append(fmean(fmean(d[rng.randrange(len(d))] for _ in d) for d in drawn))
    means.sort()
    return {
        "difference": fmean(fmean(diffs[s]) for s in seeds),
        "ci95_low": means[int(0.025 * resamples)],
        "ci95_high": means[min(resamples - 1, int(0.975 * resamples))],
        "seeds": len(seeds),
    }


def ioa_against_baselines(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """IOA minus each baseline present, paired by seed and item, with its bootstrap 95% interval."""

    def items(name: str) -> dict[int, list[float]]:
        return {r["seed"]: r["held_out"] for r in records if r["strategy"] == name and r.get("held_out")}

    ioa = items("ioa")
    out = {}
    for name in BASELINES:
        theirs = items(name)
        if ioa.keys() & theirs.keys():
            out[name] = paired_bootstrap(ioa, theirs)
    return out


def _table(summary: dict[str, dict[str, Any]], records: list[dict[str, Any]]) -> str:
    modules = list(records[0]["per_module"]) if records else []
    lines = [
        "| strategy | held-out accuracy (mean ± std) | per seed | synthesized | training passes | optimizer steps | lr "
        "| answers cut by the cap | modules mastered | examples to mastery (mean) | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        per_seed = ", ".join(f"{r['accuracy']:.3f}" for r in records if r["strategy"] == name)
        to_mastery = f"{s['examples_to_mastery_mean']:.0f}" if s["examples_to_mastery_mean"] is not None else "—"
        lines.append(
            f"| {name} | {s['accuracy_mean']:.3f} ± {s['accuracy_std']:.3f} | {per_seed} | "
            f"{s['synthesized_mean']:.0f} | {s['train_passes_mean']:.0f} | {s['train_steps_mean']:.0f} | "
            f"{s['lr']:.0e} | "
            f"{100 * s['cap_hit_share_mean']:.1f}% | "
            f"{s['modules_mastered_mean']:.1f}/{len(modules)} | {to_mastery} | {s['wall_s_mean']:.0f} |"
        )
    lines += ["", "Held-out accuracy per module (mean over seeds):", ""]
    lines.append("| strategy | " + " | ".join(m.split("/")[-1] for m in modules) + " |")
    lines.append("|---|" + "---|" * len(modules))
    for name in summary:
        rs = [r for r in records if r["strategy"] == name]
        cells = " | ".join(f"{fmean(r['per_module'][m] for r in rs):.2f}" for m in modules)
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def write_results(out: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Write results.json, results.md and accuracy_vs_budget.png into ``out``; return the summary."""
    out.mkdir(parents=True, exist_ok=True)
    records = result["records"]
    summary = summarize(records)
    gain = ioa_gain(summary, records)
    against = ioa_against_baselines(records)
    breaches = protocol_breaches(summary)
    write_json(
        out / "results.json",
        {
            **result,
            "summary": summary,
            "ioa_vs_best_baseline": gain,
            "ioa_minus_baseline": against,
            "protocol_breaches": breaches,
        },
    )
    settings = result["settings"]
    first = settings["first_seed"]
    last = first + settings["seeds"] - 1
    head = [
        "# ioa bench results",
        "",
        f"Budget {settings['budget']} teacher-synthesized examples per run, {settings['epochs']} epochs per new "
        f"batch, {settings['seeds']} seeds ({first}-{last}), teacher: {settings['teacher']}, held-out probes: "
        f"{settings['eval_probes_per_module']} per module, drawn per seed; total wall time {result['wall_s']} s"
        + (f" (trials resumed from trials.jsonl: {result['resumed']}, not included)." if result["resumed"] else "."),
        "",
    ]
    if gain and gain["relative_gain"] is not None:
        head += [
            f"IOA vs the best baseline ({gain['best_baseline']}, {gain['best_baseline_accuracy']:.3f}): "
            f"{100 * gain['relative_gain']:+.1f}% relative held-out accuracy. Paired by seed, IOA minus "
            f"{gain['best_baseline']}: "
            + ", ".join(f"{d:+.3f}" for d in gain["differences"])
            + (f" (std {gain['difference_std']:.3f})." if gain["difference_std"] is not None else "."),
            "",
        ]
    for name, b in against.items():
        head.append(
            f"IOA minus {name}: {b['difference']:+.3f} held-out accuracy, 95% CI [{b['ci95_low']:+.3f}, "
            f"{b['ci95_high']:+.3f}] (paired bootstrap over {b['seeds']} seeds and their items)."
        )
    if against:
        head.append("")
    head += [f"**Protocol not met:** {b}." for b in breaches] + ([""] if breaches else [])
    atomic_write(out / "results.md", "\n".join(head).rstrip() + "\n\n" + _table(summary, records) + "\n")
    plot(out / "accuracy_vs_budget.png", records)
    return {"summary": summary, "ioa_vs_best_baseline": gain, "protocol_breaches": breaches}


def plot(path: Path, records: list[dict[str, Any]]) -> None:
    """Held-out accuracy against teacher examples synthesized: one line per run, one colour per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = plt.get_cmap("tab10")
    for i, name in enumerate(dict.fromkeys(r["strategy"] for r in records)):
        for j, r in enumerate(x for x in records if x["strategy"] == name):
            xs, ys = zip(*r["curve"], strict=True)
            ax.plot(xs, ys, marker="o", color=colours(i % 10), alpha=0.8, label=name if j == 0 else None)
    ax.set_xlabel("teacher examples synthesized")
    ax.set_ylabel("held-out accuracy (all modules)")
    ax.set_title("ioa bench: accuracy against budget")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
