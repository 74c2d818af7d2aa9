"""Concept memory (Chroma) and its offline embedding function."""

from ioa.memory.concepts import ConceptMemory, ephemeral_client
from ioa.memory.embeddings import BundledMiniLM

__all__ = ["BundledMiniLM", "ConceptMemory", "ephemeral_client"]
