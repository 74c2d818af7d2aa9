"""Concept memory with the real bundled embedding, and the supply-chain guard on bundled files."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from ioa.bundled import MINILM_SHA256, bundled_minilm_dir, package_dir, verify_sha256
from ioa.errors import RuntimeFailure, UsageError
from ioa.memory import BundledMiniLM, ConceptMemory


@pytest.fixture(scope="module")
def embed() -> BundledMiniLM:
    return BundledMiniLM()


@pytest.fixture
def memory(embed: BundledMiniLM) -> ConceptMemory:
    return ConceptMemory.ephemeral(embed)


def test_bundled_embedding_matches_upstream(embed: BundledMiniLM) -> None:
    a, b = embed(["A man is eating food.", "A man is eating a piece of bread."])
    cosine = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    assert a.shape == (384,)
    assert cosine == pytest.approx(0.755, abs=0.005)


def test_embedding_function_is_not_legacy(embed: BundledMiniLM) -> None:
    # A legacy function makes Chroma warn and persist no config, so a reopened store could not rebuild it.
    assert not embed.is_legacy()


def test_record_moves_module_between_collections(memory: ConceptMemory) -> None:
    assert memory.state("add") is None
    memory.record("add", "single-digit addition", mastered=False, metadata={"ratio": 0.2})
    assert memory.state("add") == "unmastered"
    memory.record("add", "single-digit addition", mastered=True, metadata={"ratio": 0.95, "round": 2})
    assert memory.state("add") == "mastered"
    assert memory.counts() == {"mastered": 1, "unmastered": 0}
    memory.record("add", "single-digit addition", mastered=False, metadata={})
    assert memory.counts() == {"mastered": 0, "unmastered": 1}


def test_nearest_mastered_orders_by_meaning(memory: ConceptMemory) -> None:
    assert memory.nearest_mastered("adding numbers") == []
    memory.record("add", "adding two single-digit numbers", mastered=True, metadata={})
    memory.record("geo", "the capital cities of European countries", mastered=True, metadata={})
    memory.record("mul", "multiplying two single-digit numbers", mastered=True, metadata={})
    memory.record("sub", "subtracting two numbers", mastered=False, metadata={})

    hits = memory.nearest_mastered("addition of small whole numbers", k=3)
    assert [h[0] for h in hits] == ["add", "mul", "geo"]
    assert hits[0][1] == "adding two single-digit numbers"
    assert hits[0][2] < hits[1][2] < hits[2][2]

    # Unmastered modules are never offered, and excluded ones are skipped without shrinking k.
    assert [h[0] for h in memory.nearest_mastered("subtracting numbers", k=2, exclude={"add"})] == ["mul", "geo"]
    assert memory.nearest_mastered("anything", k=5, exclude={"add", "geo", "mul"}) == []

    # A distance limit keeps the near ones only: the capitals are another subject than addition.
    near = memory.nearest_mastered("addition of small whole numbers", k=3, max_distance=(hits[1][2] + hits[2][2]) / 2)
    assert [h[0] for h in near] == ["add", "mul"]


def test_ephemeral_stores_are_isolated(embed: BundledMiniLM) -> None:
    first, second = ConceptMemory.ephemeral(embed), ConceptMemory.ephemeral(embed)
    first.record("add", "addition", mastered=True, metadata={})
    assert second.counts() == {"mastered": 0, "unmastered": 0}


def test_store_persists_across_reopen(tmp_path) -> None:
    path = tmp_path / "chroma"
    store = ConceptMemory.open(path)
    store.record("add", "adding two numbers", mastered=True, metadata={"ratio": 1.0})
    store.record("mul", "multiplying two numbers", mastered=False, metadata={"ratio": 0.1})
    del store

    reopened = ConceptMemory.open(path)
    assert reopened.counts() == {"mastered": 1, "unmastered": 1}
    assert reopened.state("mul") == "unmastered"
    [(module_id, _, _)] = reopened.nearest_mastered("sum of numbers")
    assert module_id == "add"


def test_corrupted_bundled_file_is_refused(tmp_path) -> None:
    copy = tmp_path / "model.safetensors"
    shutil.copyfile(bundled_minilm_dir() / "model.safetensors", copy)
    verify_sha256(copy, MINILM_SHA256)  # an intact copy passes

    with copy.open("r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    # Same size: only the new mtime tells the in-process cache that the file changed.
    stat = copy.stat()
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(RuntimeFailure, match="sha256 mismatch.*refusing to load"):
        verify_sha256(copy, MINILM_SHA256)


def test_missing_package_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="pip install"):
        package_dir("ioa_no_such_package")
