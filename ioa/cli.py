"""The `ioa` command line. Errors are one line on stderr: exit 2 for bad input, 1 for runtime failures."""

from __future__ import annotations

import json
import sys
import traceback
import warnings
from pathlib import Path
from typing import Annotated

import typer

from ioa.errors import IOAError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="rich",
    help="Distil a teacher LLM into a small student the way a good tutor teaches (the IOA framework).",
)
teacher_app = typer.Typer(no_args_is_help=True, help="The embedded local teacher.")
app.add_typer(teacher_app, name="teacher")

_debug = {"on": False}


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False) -> None:
    _debug["on"] = debug


@app.command()
def run(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file (see README).")] = None,
    run_dir: Annotated[
        Path | None, typer.Option("--run-dir", "-o", help="Where the run is written; default runs/<timestamp>.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override one config key, e.g. --set budget.max_rounds=2 (repeatable)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Run the IOA graph: identify gaps, plan a curriculum, teach, adapt, train, diagnose, until mastered.

    With no config it runs the embedded offline default: SmolLM2-135M-Instruct, served locally by
    `transformers serve`, teaching a tiny from-scratch student English word knowledge (plurals, past tense,
    comparatives, capitals). A run that can teach nothing exits with code 3 and says why.

    [bold]Examples[/]

      ioa run --run-dir runs/first

      ioa run --set budget.max_rounds=2 --set domain.probes_per_module=8

      ioa run --set teacher.base_url=http://localhost:8000/v1 --set teacher.model=Qwen2.5-7B-Instruct

    Config precedence: --config file, then IOA_SECTION__KEY environment variables, then --set.
    """
    from ioa.config import load_config
    from ioa.domains import resolve_domain

    cfg = load_config(config, set_ or [])  # before the heavy imports, so a bad config fails fast
    cfg = resolve_domain(cfg)  # likewise a bad seed file or gym list
    from ioa.graph.runner import run as run_graph

    summary = run_graph(cfg, run_dir, progress=not quiet)
    _print_summary(summary, run_dir)


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by `ioa run`.", readable=False)],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Continue a stopped or killed run from its last LangGraph checkpoint (same config, same teacher)."""
    from ioa.rundir import RunDir

    RunDir.open(run_dir)  # a missing or foreign directory fails here, before the slow imports
    from ioa.graph.runner import resume as resume_graph

    summary = resume_graph(run_dir, progress=not quiet)
    _print_summary(summary, run_dir)


@app.command()
def traces(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", readable=False)],
    agent: Annotated[
        str | None, typer.Option(help="Only this agent: teacher, diagnostician, planner, adapter, trainer.")
    ] = None,
    round_: Annotated[int | None, typer.Option("--round", help="Only this round.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON event per line instead of a table.")] = False,
) -> None:
    """Print the agent trace of a run: what each agent did and why, with tokens and latency.

    Planner rows show the reason and the numbers behind each decision; teacher rows show parse
    failures and failed requests. --json prints the full events (prompts and raw outputs included).

    [bold]Examples[/]

      ioa traces runs/first --agent planner

      ioa traces runs/first --round 1 --json
    """
    from ioa.rundir import RunDir
    from ioa.traces import print_traces, read_traces, select_events

    rd = RunDir.open(run_dir)
    events = select_events(read_traces(rd.traces), agent=agent, round_=round_)
    if as_json:
        for e in events:
            print(json.dumps(e, default=str))
        return
    print_traces(events)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (finished, stopped or running).", readable=False)],
) -> None:
    """Write RUN_DIR/report.html (self-contained) and RUN_DIR/plots/*.png: mastery, curriculum, teacher, loss.

    `ioa run` writes the report itself when it finishes; this command redraws it, e.g. for a stopped run.

    [bold]Example[/]:  ioa report runs/first
    """
    from ioa.report import write_report

    typer.echo(str(write_report(run_dir)))


@app.command()
def bench(
    strategies: Annotated[
        str | None, typer.Option(help="Comma-separated strategies; default all (see docs/bench.md).")
    ] = None,
    seeds: Annotated[int | None, typer.Option(help="Seeds per strategy (default 3).")] = None,
    budget: Annotated[int | None, typer.Option(help="Teacher-synthesized examples per run.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where results.json, results.md and the plot go.")] = Path(
        "bench"
    ),
    teacher: Annotated[str | None, typer.Option(help="'oracle' (default) or 'llm' (the configured teacher).")] = None,
    lrs: Annotated[str | None, typer.Option(help="Comma-separated learning-rate grid, e.g. 5e-4,1e-3,2e-3.")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Tiny student and budget (a smoke run).")] = False,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override one config key (repeatable).")] = None,
) -> None:
    """Prove the pedagogy: IOA against distillation baselines at equal teacher budget, on held-out probes.

    Each finished trial is saved to OUT/trials.jsonl: after a stop, the same command resumes.
    More --seeds or --strategies in the same OUT run only the new trials.

    [bold]Examples[/]

      ioa bench --out bench/default

      ioa bench --quick --seeds 2 --out /tmp/bench

      ioa bench --strategies ioa,uniform --budget 160 --lrs 5e-4,1e-3,2e-3
    """
    from ioa.bench.options import QUICK, with_options
    from ioa.config import load_config

    # --quick is a list of overrides that an explicit --set still beats.
    cfg = load_config(config, [*(QUICK if quick else []), *(set_ or [])])
    cfg = with_options(cfg, strategies=strategies, seeds=seeds, budget=budget, teacher=teacher, lrs=lrs)
    from ioa.bench.command import bench as run_bench

    result = run_bench(cfg, out, report=lambda line: typer.echo(line, err=True))
    gain = result["ioa_vs_best_baseline"]
    for name, s in result["summary"].items():
        typer.echo(f"{name:<20} {s['accuracy_mean']:.3f} ± {s['accuracy_std']:.3f}")
    if gain and gain["relative_gain"] is not None:
        typer.echo(f"ioa vs {gain['best_baseline']}: {100 * gain['relative_gain']:+.1f}% relative")
    for breach in result["protocol_breaches"]:
        typer.echo(f"protocol not met: {breach}")
    typer.echo(f"-> {out}/results.md")


@app.command("train-student")
def train_student_cmd(
    data: Annotated[Path, typer.Option("--data", help='JSONL file: one {"prompt": ..., "target": ...} per line.')],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder the trained student is saved to.")],
    student: Annotated[
        str | None, typer.Option(help="student.model: 'tiny', 'bundled', a folder, a hub id or a .gguf file.")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file (see README).")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override one config key, e.g. --set training.epochs=2 (repeatable)."),
    ] = None,
) -> None:
    """Fine-tune a student on a JSONL file of examples with ioa's training recipe, on one device or several.

    Prints the result as one JSON line. Under `accelerate launch` each process trains on its share of every
    batch (gradients averaged by accelerate) and only the first saves the student.

    [bold]Examples[/]

      ioa train-student --data examples.jsonl --out student --student HuggingFaceTB/SmolLM2-135M-Instruct

      accelerate launch --multi_gpu --num_processes 2 -m ioa train-student --data examples.jsonl --out student
    """
    from ioa.config import load_config

    overrides = (set_ or []) + ([f"student.model={student}"] if student else [])
    cfg = load_config(config, overrides)
    from ioa.student_train.launch import train_from_file

    train_from_file(cfg, data, out)


def _optimizable() -> str:
    """The programs `ioa optimize-prompts` can compile (ioa.optimize.programs, which loads neither DSPy nor torch)."""
    from ioa.optimize.programs import PROGRAM_TASKS

    return ", ".join(PROGRAM_TASKS)


@app.command("optimize-prompts")
def optimize_prompts(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the optimized program is saved (DSPy JSON state).")],
    program: Annotated[
        str, typer.Option("--program", "-p", help=f"Teacher program: {_optimizable()}.")
    ] = "worked_solution",
    optimizer: Annotated[str, typer.Option(help="DSPy optimizer: bootstrap, mipro or gepa.")] = "bootstrap",
    budget: Annotated[
        int | None,
        typer.Option(help="bootstrap: training examples tried; mipro: trials; gepa: metric calls (optimize.budget)."),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file (see README).")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override one config key, e.g. --set optimize.dev_size=8 (repeatable)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Compile one teacher program with a DSPy optimizer against the real teacher; print the metric before and after.

    Answer programs: the domain checker's verdict on the teacher's answer, weighted by how close the student's
    success on the exercise's level lies to the ZPD target (optimize.zpd_target), on held-out exercises (never
    probes). Synthesis programs (synthesize_*, what the teach node of a run asks): one request per held-out module
    and level for J exercises (synthesis.examples_per_module), scored by the share of them that parse, verify with
    the domain's checker and are distinct.

    [bold]Examples[/]

      ioa optimize-prompts --program worked_solution --optimizer bootstrap --budget 8 --out worked.json

      ioa run --set teacher.programs.worked_solution=worked.json

      ioa optimize-prompts --program synthesize_new --optimizer bootstrap --budget 8 --out new.json

      ioa run --set teacher.programs.synthesize_new=new.json

      ioa optimize-prompts --optimizer gepa --budget 40 --out worked.json \\
          --set optimize.reflection_base_url=http://localhost:8000/v1 \\
          --set optimize.reflection_model=Qwen2.5-7B-Instruct
    """
    from ioa.config import load_config

    cfg = load_config(config, set_ or [])
    from ioa.optimize import format_result
    from ioa.optimize import optimize_prompts as optimize

    result = optimize(cfg, program, optimizer, out, budget, progress=not quiet)
    typer.echo(format_result(result))


@teacher_app.command("serve")
def teacher_serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8000,
    continuous_batching: Annotated[bool, typer.Option(help="transformers serve --continuous-batching.")] = True,
    threads: Annotated[int, typer.Option(help="torch CPU threads of the server (0: torch's default).")] = 2,
    dtype: Annotated[
        str, typer.Option(help="auto (bfloat16 where the CPU or GPU has it natively), bfloat16 or float32.")
    ] = "auto",
) -> None:
    """Serve the embedded teacher (SmolLM2-135M-Instruct) on its own, until Ctrl-C.

    Point another run at it with --set teacher.base_url=http://127.0.0.1:PORT/v1 and --set teacher.model=NAME,
    the model name it prints (the server answers for its folder's path only).
    """
    import time

    from ioa.teacher.local_server import LocalTeacherServer, ensure_teacher_folder, serve_dtype

    folder = ensure_teacher_folder(progress=lambda msg: typer.echo(msg, err=True))
    server = LocalTeacherServer(
        folder, port=port, continuous_batching=continuous_batching, threads=threads, dtype=serve_dtype(dtype)
    )
    with server:
        typer.echo(f"teacher serving at {server.base_url} (model {server.model_name!r}); Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


NOTHING_TAUGHT = 3
"""Exit code of a run that completed without teaching anything (docs/errors.md): its one line says why."""


def _print_summary(summary: dict, run_dir: Path | None) -> None:
    """The run's one line: what the student mastered, in words that keep beyond_teacher apart from mastered."""
    from ioa.graph.runner import headline

    line, _ = headline(summary)
    typer.echo(
        f"{line}, {summary['teacher']['calls']} teacher calls, {summary['elapsed_s']} s"
        + (f" -> {run_dir}" if run_dir else "")
    )
    if note := (summary.get("lengths") or {}).get("note"):
        typer.echo(note)
    if summary["status"] == "completed" and not summary.get("taught", True):
        typer.echo(
            f"ioa: nothing was taught: {summary.get('finish_reason') or 'no round trained the student'}", err=True
        )
        raise typer.Exit(NOTHING_TAUGHT)


def main() -> None:
    """Entry point: one clear line on errors, tracebacks only with --debug."""
    # A dependency of reasoning-gym (cellpylib) trips SyntaxWarnings when first compiled; they are not ours to fix.
    warnings.filterwarnings("ignore", category=SyntaxWarning)
    try:
        # Outside standalone mode click returns a typer.Exit's code instead of exiting with it.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except IOAError as exc:
        if _debug["on"]:
            traceback.print_exc()
        print(f"ioa: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("ioa: stopped; continue with `ioa resume RUN_DIR`", file=sys.stderr)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the CLI's contract is one line, not a traceback
        # A command-line usage error (click's, or the copy of click that newer Typer versions carry) shows itself.
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        if _debug["on"]:
            traceback.print_exc()
        print(f"ioa: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
