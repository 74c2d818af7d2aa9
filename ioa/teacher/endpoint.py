"""The teacher endpoint's preflight: before a run directory exists, ``teacher.base_url`` answers and serves the model.

A wrong URL or model name would otherwise surface only after the run directory, the student and the concept
memory were set up, as one failed request per probe. ``GET /models`` is cheap and every OpenAI-compatible server we
target lists what it serves there (vLLM, SGLang, Ollama, llama.cpp, `transformers serve`, hosted APIs).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from ioa.config import TeacherConfig
from ioa.errors import UsageError

PREFLIGHT_TIMEOUT_S = 10.0
"""How long the listing may take: a server that is up answers it at once, even while it is busy generating."""


def api_key(cfg: TeacherConfig) -> str | None:
    """The key from ``teacher.api_key_env``; None when no variable is named. A named but unset variable is refused."""
    if not cfg.api_key_env:
        return None
    key = os.environ.get(cfg.api_key_env)
    if not key:
        raise UsageError(f"environment variable {cfg.api_key_env} (teacher.api_key_env) is not set")
    return key


def served_models(base_url: str, key: str | None, timeout_s: float = PREFLIGHT_TIMEOUT_S) -> list[str] | None:
    """The model ids ``base_url`` lists, or None when it answers but keeps no list (no ``/models`` route).

    Raises ``UsageError`` when nothing answers at ``base_url`` or it refuses the key.
    """
    url = base_url.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout_s) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise UsageError(f"teacher.base_url {base_url} refused the API key (HTTP {exc.code})") from exc
        return None  # it answers, only not this route: the first real request will tell the rest
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UsageError(f"teacher.base_url {base_url} does not answer ({reason}); is the server running?") from exc
    try:
        listing = json.loads(body)
        return [str(m["id"]) for m in listing["data"]]
    except (ValueError, KeyError, TypeError):
        return None  # not an OpenAI model list: nothing to check the name against


def check_endpoint(cfg: TeacherConfig) -> None:
    """Refuse, with one line, a ``teacher.base_url`` that does not answer or does not serve ``teacher.model``.

    The embedded teacher (no ``base_url``) is started by the run itself and needs no check.
    """
    if not cfg.base_url:
        return
    served = served_models(cfg.base_url, api_key(cfg), min(cfg.timeout_s, PREFLIGHT_TIMEOUT_S))
    if served and cfg.model not in served:
        shown = ", ".join(repr(m) for m in served[:5]) + (f" and {len(served) - 5} more" if len(served) > 5 else "")
        raise UsageError(f"teacher.model {cfg.model!r} is not served at {cfg.base_url}; it serves {shown}")
