"""Concept memory: which knowledge modules the student has mastered, searchable by meaning.

Two Chroma collections, ``mastered`` and ``unmastered``; a module lives in exactly one.
The adapter scaffolds new material from the nearest mastered module (docs/design.md §6).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Set
from pathlib import Path
from typing import Any, Literal

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.types import Documents, EmbeddingFunction
from chromadb.config import Settings

from ioa.errors import RuntimeFailure
from ioa.memory.embeddings import BundledMiniLM

State = Literal["mastered", "unmastered"]
Metadata = Mapping[str, float | int | str]


def _settings() -> Settings:
    # The env default too: chromadb shares one in-memory system per process and refuses a second
    # client whose Settings differ, so a plain Settings() elsewhere must come out equal to ours.
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    return Settings(anonymized_telemetry=False)


def ephemeral_client() -> ClientAPI:
    """An in-memory Chroma client with a fresh database of its own.

    Every EphemeralClient in a process shares one in-memory system, so isolation comes from
    a new database per client.
    """
    settings = _settings()
    database = f"ioa-{uuid.uuid4().hex}"
    chromadb.AdminClient(settings).create_database(database)
    return chromadb.EphemeralClient(settings=settings, database=database)


class ConceptMemory:
    """Mastered and unmastered knowledge modules in Chroma, one document per module."""

    COLLECTIONS: tuple[State, State] = ("mastered", "unmastered")

    def __init__(self, client: ClientAPI, embedding_function: EmbeddingFunction[Documents]) -> None:
        self.client = client
        self._collections = {
            name: client.get_or_create_collection(
                name,
                embedding_function=embedding_function,
                configuration={"hnsw": {"space": "cosine"}},
            )
            for name in self.COLLECTIONS
        }

    @classmethod
    def open(cls, path: Path) -> ConceptMemory:
        """The persistent store at ``path`` (RUN_DIR/chroma), created when missing."""
        try:
            client = chromadb.PersistentClient(path=str(path), settings=_settings())
        except Exception as exc:  # chromadb raises assorted types for an unusable directory
            raise RuntimeFailure(f"cannot open concept memory at {path}: {exc}") from exc
        return cls(client, BundledMiniLM())

    @classmethod
    def ephemeral(cls, embedding_function: EmbeddingFunction[Documents] | None = None) -> ConceptMemory:
        """An in-memory store of its own, for tests."""
        return cls(ephemeral_client(), embedding_function or BundledMiniLM())

    def record(self, module_id: str, text: str, mastered: bool, metadata: Metadata) -> None:
        """Put a module in ``mastered`` or ``unmastered``, and take it out of the other."""
        target: State = "mastered" if mastered else "unmastered"
        other: State = "unmastered" if mastered else "mastered"
        # Never empty (Chroma rejects an empty metadata dict), and the id is handy when browsing the store.
        meta: dict[str, Any] = {"module_id": module_id, **metadata}
        self._collections[target].upsert(ids=[module_id], documents=[text], metadatas=[meta])
        self._collections[other].delete(ids=[module_id])

    def state(self, module_id: str) -> State | None:
        """Which collection holds the module, or None if it was never recorded."""
        for name in self.COLLECTIONS:
            if self._collections[name].get(ids=[module_id], include=[])["ids"]:
                return name
        return None

    def nearest_mastered(
        self, text: str, k: int = 1, exclude: Set[str] = frozenset(), max_distance: float | None = None
    ) -> list[tuple[str, str, float]]:
        """Up to ``k`` mastered modules closest to ``text``: (module_id, text, cosine distance), nearest first; none
        farther than ``max_distance`` when it is given."""
        mastered = self._collections["mastered"]
        size = mastered.count()
        if k <= 0 or size == 0:
            return []
        # Enough that k remain once the excluded ones are dropped, but never more than exist.
        n = min(size, k + len(exclude))
        found = mastered.query(query_texts=[text], n_results=n, include=["documents", "distances"])
        ids = found["ids"][0]
        docs = (found["documents"] or [[]])[0]
        dists = (found["distances"] or [[]])[0]
        hits = [(i, d or "", float(x)) for i, d, x in zip(ids, docs, dists, strict=True) if i not in exclude]
        return [h for h in hits if max_distance is None or h[2] <= max_distance][:k]

    def counts(self) -> dict[str, int]:
        """Modules per collection."""
        return {name: self._collections[name].count() for name in self.COLLECTIONS}
