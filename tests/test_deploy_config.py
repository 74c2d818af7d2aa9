"""Deployment's inputs, checked without a server or a database: the checkpointer setting and its DSN, inline
config values, and what a LangGraph Server request may carry (docs/deploy.md, docs/errors.md)."""

from __future__ import annotations

import json

import pytest
from postgres_server import free_port

from ioa.config import CheckpointerConfig, load_config
from ioa.errors import RuntimeFailure, UsageError
from ioa.graph.checkpoints import check_checkpointer, postgres_dsn
from ioa.rundir import RunDir
from ioa.server.request import RunRequest


def test_checkpointer_postgres_is_shorthand_for_its_backend():
    assert load_config(None, ["checkpointer=postgres"], environ={}).checkpointer == CheckpointerConfig(
        backend="postgres"
    )
    config = load_config(None, [], environ={"IOA_CHECKPOINTER__DSN_ENV": "PG"})
    assert (config.checkpointer.backend, config.checkpointer.dsn_env) == ("sqlite", "PG")
    with pytest.raises(UsageError, match="checkpointer.backend: Input should be 'sqlite' or 'postgres'"):
        load_config(None, ["checkpointer=mysql"], environ={})


def test_inline_values_sit_between_the_environment_and_the_overrides():
    environ = {"IOA_BUDGET__MAX_ROUNDS": "3", "IOA_TRAINING__EPOCHS": "4"}
    values = {"budget": {"max_rounds": 5}}
    config = load_config(None, ["training.epochs=6"], environ=environ, values=values)
    assert (config.budget.max_rounds, config.training.epochs) == (5, 6)
    with pytest.raises(UsageError, match="inline config values must be a mapping of sections"):
        load_config(None, values=["budget"], environ={})  # type: ignore[arg-type]


def test_the_dsn_comes_from_the_named_variable_and_a_bad_one_is_named_not_shown():
    cfg = CheckpointerConfig(backend="postgres")
    assert postgres_dsn(cfg, {"IOA_POSTGRES_DSN": "postgresql://u@h:5432/db"}) == "postgresql://u@h:5432/db"
    with pytest.raises(UsageError) as unset:
        postgres_dsn(cfg, {})
    assert str(unset.value) == (
        "checkpointer postgres: environment variable IOA_POSTGRES_DSN (checkpointer.dsn_env) is not set"
    )
    with pytest.raises(UsageError) as malformed:
        postgres_dsn(cfg, {"IOA_POSTGRES_DSN": "mysql://u:hunter2@h/db"})
    assert "hunter2" not in str(malformed.value)
    assert str(malformed.value).startswith("checkpointer postgres: IOA_POSTGRES_DSN is not a PostgreSQL connection")


def test_a_database_that_is_down_is_a_runtime_failure_in_one_line(monkeypatch):
    port = free_port()
    monkeypatch.setenv("IOA_POSTGRES_DSN", f"postgresql://ioa:hunter2@127.0.0.1:{port}/ioa")
    with pytest.raises(RuntimeFailure) as down:
        check_checkpointer(load_config(None, ["checkpointer=postgres"], environ={}))
    assert str(down.value) == (
        f'cannot reach the Postgres checkpointer (IOA_POSTGRES_DSN): connection to server at "127.0.0.1", '
        f"port {port} failed: Connection refused"
    )
    check_checkpointer(load_config(None, [], environ={}))  # sqlite: nothing to reach


def test_a_request_takes_each_value_from_its_context_else_its_configurable():
    request = RunRequest.of({"run_dir": "a", "config": None}, {"config": {"budget": {}}, "thread_id": "t"})
    assert request == RunRequest(run_dir="a", config={"budget": {}})
    assert RunRequest.of(RunRequest(config_path="c.yaml"), {}) == RunRequest(config_path="c.yaml")


def test_a_request_without_run_dir_or_with_a_checkpointer_is_refused_before_any_folder(tmp_path):
    with pytest.raises(UsageError, match="needs run_dir"):
        RunRequest().resolve("thread")
    request = RunRequest(run_dir=str(tmp_path / "run"), config={"checkpointer": "postgres"})
    with pytest.raises(UsageError, match="on LangGraph Server the server keeps the checkpoints"):
        request.resolve("thread")
    with pytest.raises(UsageError, match="invalid config: rules.tau_mastery"):
        RunRequest(run_dir=str(tmp_path / "run"), config={"rules": {"tau_mastery": 2}}).resolve("thread")
    assert not (tmp_path / "run").exists()


def test_a_run_directory_belongs_to_its_thread_and_a_completed_run_is_not_continued(tmp_path):
    rd = RunDir.create(tmp_path / "run", load_config(None, [], environ={}).to_yaml(), run_id="thread-1")
    with pytest.raises(UsageError, match="holds the run of thread thread-1"):
        RunRequest(run_dir=str(rd.root)).resolve("thread-2")
    assert RunRequest(run_dir=str(rd.root)).resolve("thread-1")[1:] == (load_config(rd.config, environ={}), False)
    with pytest.raises(UsageError, match="already holds a run with another config"):
        RunRequest(run_dir=str(rd.root), config={"budget": {"max_rounds": 1}}).resolve("thread-1")
    rd.summary.write_text(json.dumps({"status": "completed"}))
    with pytest.raises(UsageError, match="holds a completed run"):
        RunRequest(run_dir=str(rd.root)).resolve("thread-1")
