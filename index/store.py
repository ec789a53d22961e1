"""Storing: the index on disk, in four parts under the data directory.

- `chroma/`: the vector store of the prose chunks (references and table residue are searched by
  BM25 alone); an embedded `PersistentClient`, or a Chroma server when `QA_CHROMA_URL` is set, written through chromadb and searched through `langchain-chroma`, cosine space, telemetry off.
- `manifest.sqlite`: the record of indexed files and their chunks (index/manifest.py). A file's row
  is committed only after its chunks are in Chroma, so an interrupted run is simply redone.
- `bm25/`: a bm25s index over every chunk, persisted and reloaded, brought up to date with a
  delta when files change (index/bm25.py), never rebuilt per query.
- `texts/`: the index's own copy of each document's extracted text, which offsets refer to.
Leaves out: what to index and when (indexer.py).
"""
from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from index.bm25 import Bm25Index
from index.errors import BackendError, IndexLockedError
from index.manifest import ChunkRecord, Manifest, manifest_path
from index.settings import Settings

COLLECTION_CONFIG = {"hnsw": {"space": "cosine"}}
def chroma_client(settings: Settings):
    """The embedded store under the data directory, or a Chroma server when `QA_CHROMA_URL` is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        try:
            return chromadb.HttpClient(
                host=url.hostname or "127.0.0.1", port=url.port or 8000, ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as e:
            raise BackendError(f"cannot reach the Chroma server at {settings.chroma_url} ({e}); is `chroma run` up?") from None
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


class Store:
    """The whole index: vector store, manifest, BM25 and text copies. Opened by `open_store`."""

    def __init__(self, settings: Settings, embeddings):
        self.settings = settings
        self.data_dir = settings.data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.embeddings = embeddings
        self.manifest = Manifest(manifest_path(self.data_dir))
        self.client = chroma_client(settings)
        # The collection itself for writing; langchain-chroma's view of it (`vectors`) only when a
        # search needs it, so `qa index` never imports LangChain's retriever stack.
        self.collection = self.client.get_or_create_collection(settings.collection, configuration=COLLECTION_CONFIG)
        self.bm25 = Bm25Index(self.data_dir / "bm25")
        self._bm25_lock = threading.Lock()

    @functools.cached_property
    def vectors(self):
        from langchain_chroma import Chroma

        return Chroma(client=self.client, collection_name=self.settings.collection, embedding_function=self.embeddings,
                      collection_configuration=COLLECTION_CONFIG)

    @property
    def max_batch_size(self) -> int:
        return int(self.client.get_max_batch_size())

    # -- what the answering side asks ------------------------------------------------------------
    def dense(self, query: str, n: int) -> list[tuple[str, float]]:
        """The `n` chunks nearest the query by cosine: (id, similarity), best first."""
        vector = self.embeddings.embed_query(query)
        return self.dense_by_vector(vector, n)

    def dense_by_vector(self, vector: list[float], n: int) -> list[tuple[str, float]]:
        hits = self.vectors.similarity_search_by_vector_with_relevance_scores(vector, k=n)
        # Chroma returns cosine *distance*; similarity = 1 - distance.
        return [(doc.id, 1.0 - float(dist)) for doc, dist in hits]

    def keyword(self, query: str, n: int) -> list[tuple[str, float]]:
        """The `n` best chunks by BM25: (id, score), best first."""
        self.refresh_bm25()
        return self.bm25.search(query, n)

    def chunks(self, ids: list[str]) -> dict[str, ChunkRecord]:
        return self.manifest.chunks(ids)

    def leads(self, records: list[ChunkRecord]) -> dict[str, tuple[int, str, str, int]]:
        return self.manifest.leads(records)

    def sentence_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        return self.manifest.sentence_vectors(ids, self.embeddings.dimension)

    def sentence_tokens(self, ids: list[str]) -> dict[str, list[np.ndarray]]:
        return self.manifest.sentence_tokens(ids, self.embeddings.dimension)

    def files(self) -> list[sqlite3.Row]:
        return self.manifest.files()

    def counts(self) -> tuple[int, int]:
        """(documents, chunks) indexed."""
        return self.manifest.counts()

    def chunk_texts(self) -> list[tuple[str, str]]:
        return self.manifest.all_chunks()

    def vector_count(self) -> int:
        return int(self.collection.count())

    def add_bare_chunks(self, source: str, ids: list[str], vectors, texts: list[str], first_ord: int = 0) -> None:
        """Chunks given their vectors, with no file behind them (`qa bench`'s synthetic corpus)."""
        metas = [{"source": source, "start": 0, "end": len(t), "ord": first_ord + i} for i, t in enumerate(texts)]
        self.collection.add(ids=ids, embeddings=vectors, documents=texts, metadatas=metas)
        self.manifest.add_bare_chunks(source, [(i, first_ord + k, t) for k, (i, t) in enumerate(zip(ids, texts))])

    # -- text copies -------------------------------------------------------------------------
    def text_path(self, source: str) -> Path:
        return self.data_dir / "texts" / (hashlib.sha1(source.encode()).hexdigest() + ".txt")

    def save_text(self, source: str, text: str) -> str:
        path = self.text_path(source)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, path)
        return path.name

    def document_text(self, source: str) -> str | None:
        try:
            with open(self.text_path(source), encoding="utf-8", newline="") as f:
                return f.read()
        except OSError:
            return None

    # -- BM25 ----------------------------------------------------------------------------------
    def refresh_bm25(self) -> None:
        """Bring BM25 up to the manifest's generation: load the saved index, then apply what
        changed since as a delta, or rebuild when that delta has grown large. Never per query:
        a query finds the generation unchanged and does nothing."""
        with self._bm25_lock:
            gen = self.manifest.generation()
            if self.bm25.generation == gen:
                return
            if not self.bm25.loaded or self.bm25.stored_generation() != self.bm25.generation:
                if self.bm25.stored_generation() < 0:
                    self.bm25.build(self.manifest.all_chunks(), gen)
                    return
                self.bm25.load()
                if self.bm25.generation == gen:
                    return
            current = self.manifest.chunk_id_set()
            main = self.bm25.main_ids
            added, removed = current - main, main - current
            if self.bm25.needs_rebuild(len(added) + len(removed)):
                self.bm25.build(self.manifest.all_chunks(), gen)
            else:
                texts = self.manifest.chunks(sorted(added))
                self.bm25.apply_delta([(i, texts[i].text) for i in sorted(added)], removed, gen)

    def word_idf(self, words: list[str]) -> dict[str, float | None]:
        """Each word's BM25 idf over the index (None for a word BM25 does not index): the weight a
        question's word carries in the sentence scorer's word overlap."""
        self.refresh_bm25()
        return self.bm25.word_idf(words)

    def unseen(self, words: list[str]) -> list[str]:
        """The words no indexed chunk has (`Bm25Index.unseen`): what the documents never mention."""
        self.refresh_bm25()
        return self.bm25.unseen(words)

    # -- writer lock ---------------------------------------------------------------------------
    @contextmanager
    def writer(self):
        """One writer per data directory: a second one gets IndexLockedError naming the holder."""
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.data_dir / "index.lock"))
        pid_file = self.data_dir / "index.pid"
        try:
            lock.acquire(timeout=0)
        except Timeout:
            try:
                pid = pid_file.read_text().strip()
            except OSError:
                pid = "?"
            raise IndexLockedError(f"index is being updated by process {pid}; wait for it to finish and retry") from None
        try:
            pid_file.write_text(str(os.getpid()))
            yield
        finally:
            pid_file.unlink(missing_ok=True)
            lock.release()


def open_store(settings: Settings, embeddings=None) -> Store:
    if embeddings is None:
        from index.embed import build_embeddings

        embeddings = build_embeddings(settings)
    return Store(settings, embeddings)
