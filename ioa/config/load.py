"""Resolving a config: file, then environment (``IOA_SECTION__FIELD``), then ``--set`` flags, validated once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ioa.config.run import Config
from ioa.errors import UsageError

ENV_PREFIX = "IOA_"


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise UsageError(f"cannot set {dotted!r}: {part!r} is not a section")
    node[leaf] = value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _parse_assignment(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set expects key=value, got {item!r}")
    # YAML scalars give numbers, booleans and lists without a type table of our own.
    return key.strip(), yaml.safe_load(raw) if raw.strip() else None


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            dotted = name[len(ENV_PREFIX) :].lower().replace("__", ".")
            _set_dotted(tree, dotted, yaml.safe_load(raw))
    return tree


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"config {path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"config {path} must be a mapping of sections")
    return data


def describe_validation_error(exc: ValidationError) -> str:
    """All problems of a config at once, on one line."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{where}: {msg}")
    return "invalid config: " + "; ".join(parts)


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    environ: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Config:
    """Resolve file -> environment -> ``values`` (sections of inline values, as a LangGraph Server request sends
    them) -> ``key=value`` overrides into one validated Config."""
    tree = _read_file(Path(path)) if path else {}
    tree = _merge(tree, _env_overrides(dict(os.environ) if environ is None else environ))
    if values is not None and not isinstance(values, dict):
        raise UsageError("inline config values must be a mapping of sections")
    tree = _merge(tree, values or {})
    for item in overrides or []:
        key, value = _parse_assignment(item)
        _set_dotted(tree, key, value)
    try:
        return Config.model_validate(tree)
    except ValidationError as exc:
        raise UsageError(describe_validation_error(exc)) from exc
