"""`ioa train-student`: one process in-process, and two CPU processes under a real `accelerate launch`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from student_helpers import SUMS
from transformers import AutoModelForCausalLM

from ioa.errors import UsageError
from ioa.student_train.launch import read_examples

pytestmark = pytest.mark.usefixtures("one_thread")

# Every sum's target is one digit plus eos, so both halves of a batch hold equally many target tokens and the
# mean of the two ranks' losses equals one process's loss over the whole batch.
TRAINING = {"epochs": 10, "batch_size": 8, "lr": 0.01}


def write_sums(path: Path) -> Path:
    path.write_text("".join(json.dumps({"prompt": e.prompt, "target": e.target}) + "\n" for e in SUMS * 2))
    return path


def train_args(data: Path, out: Path, student: Path) -> list[str]:
    sets = [f"--set=training.{k}={v}" for k, v in TRAINING.items()]
    return ["train-student", "--data", str(data), "--out", str(out), "--student", str(student), *sets,
            "--set=student.finetune=full"]  # fmt: skip


def test_read_examples_reports_the_bad_line(tmp_path: Path) -> None:
    good = write_sums(tmp_path / "good.jsonl")
    assert read_examples(good)[0].prompt == SUMS[0].prompt and len(read_examples(good)) == 32
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "target": "b"}\n\n{"prompt": "a"}\n')
    with pytest.raises(UsageError, match=r"bad.jsonl:3: expected"):
        read_examples(bad)
    bad.write_text('{"prompt": "a", "target": "b"}\n\n{"prompt": "a",\n')
    with pytest.raises(UsageError, match=r"bad.jsonl:3: not valid JSON"):
        read_examples(bad)
    with pytest.raises(UsageError, match="does not exist"):
        read_examples(tmp_path / "missing.jsonl")


@pytest.mark.integration  # a real `ioa` process past its heavy imports
def test_train_student_command_rejects_missing_data_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ioa", "train-student", "--data", str(tmp_path / "none.jsonl"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "does not exist" in done.stderr


@pytest.mark.integration
def test_two_cpu_processes_under_accelerate_launch_train_like_one(pretrained_dir: Path, tmp_path: Path) -> None:
    data = write_sums(tmp_path / "sums.jsonl")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}  # CPU ranks, even on a GPU machine

    def train(prefix: list[str], out: Path) -> tuple[subprocess.CompletedProcess, dict]:
        done = subprocess.run(
            [*prefix, *train_args(data, out, pretrained_dir)], capture_output=True, text=True, env=env, timeout=600
        )
        assert done.returncode == 0, done.stderr[-3000:]
        results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        assert len(results) == 1, done.stdout  # only rank 0 reports
        return done, results[0]

    # --multi_gpu picks accelerate's torchrun launcher; without CUDA its ranks train on CPU and talk over gloo.
    # (`--cpu --num_processes 2` would start one process: accelerate runs several CPU ones only through MPI.)
    launch = [sys.executable, "-m", "accelerate.commands.accelerate_cli", "launch", "--multi_gpu",
              "--num_processes", "2", "--main_process_port", "0", "-m", "ioa"]  # fmt: skip
    out = tmp_path / "runs" / "student"
    done, two = train(launch, out)
    ranks = sorted(re.findall(r"rank \d+ of \d+", done.stderr))
    assert ranks == ["rank 0 of 2", "rank 1 of 2"], done.stderr[-3000:]
    assert "(gloo)" in done.stderr and two["processes"] == 2
    assert sorted(p.name for p in out.parent.iterdir()) == ["student"]  # saved once: no second rank's temp folder
    assert json.loads((out / "hparams.json").read_text())["result"] == two
    assert AutoModelForCausalLM.from_pretrained(out).num_parameters() > 0

    # The same command in one plain process. The design promises the same steps, examples and tokens (each
    # global batch is split between the ranks, not multiplied), and so the same losses.
    _, one = train([sys.executable, "-m", "ioa"], tmp_path / "one")
    assert one["processes"] == 1
    epochs, batches = TRAINING["epochs"], -(-len(SUMS) * 2 // TRAINING["batch_size"])
    assert (two["steps"], two["examples"]) == (one["steps"], one["examples"]) == (epochs * batches, len(SUMS) * 2)
    assert two["tokens"] == one["tokens"]
    assert two["loss_last"] < two["loss_first"] / 3
    assert two["loss_first"] == pytest.approx(one["loss_first"], rel=1e-4)
    assert two["loss_last"] == pytest.approx(one["loss_last"], rel=1e-2)
