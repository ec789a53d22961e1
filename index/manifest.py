"""The manifest: the sqlite record of what is indexed (files, their chunks with text and offsets,
sentence and token vectors) under the data directory. All the project's SQL is here.

A file's row is committed only after its chunks are in Chroma, so an interrupted run is simply redone.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.split import split_sentences

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (
    source TEXT PRIMARY KEY, sha256 TEXT, size INTEGER, mtime_ns INTEGER, date TEXT,
    n_chunks INTEGER, indexed_at REAL, text_file TEXT, split_version INTEGER);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, source TEXT, ord INTEGER, start INTEGER, "end" INTEGER,
    text TEXT, date TEXT, page INTEGER, svec BLOB, tvec BLOB, midline INTEGER, section TEXT, kind TEXT, table_head TEXT);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
"""


@dataclass(frozen=True)
class ChunkRecord:
    id: str
    source: str
    ord: int
    start: int
    end: int
    text: str
    date: str | None = None
    page: int | None = None
    svec: bytes | None = None  # the chunk's sentence vectors (float16 rows, see `sentence_vectors`)
    tvec: bytes | None = None  # its sentences' token vectors (`pack_tokens`)
    midline: bool = False  # it starts in the middle of a line of its source (split.starts_midline)
    section: str | None = None  # the heading of the section it is in ("3.2 Dynamic masking")
    kind: str | None = None  # None: prose; "references" or "residue" (tables, figures): never preferred as answers
    table_head: str | None = None  # the header row of the table it opens inside of (its rows are read with it)

    def metadata(self) -> dict:
        md = {"source": self.source, "start": self.start, "end": self.end, "ord": self.ord}
        for key in ("date", "page", "section", "kind", "table_head"):
            if getattr(self, key) is not None:
                md[key] = getattr(self, key)
        return md


def manifest_path(data_dir: Path) -> Path:
    """Where a data directory's manifest lives (readable without opening Chroma or the model)."""
    return data_dir / "manifest.sqlite"


class Manifest:
    """sqlite record of what is indexed. WAL mode, so readers never block the writer. All the
    project's SQL is here."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        with self.connect() as db:
            db.executescript(SCHEMA)
            columns = {r[1] for r in db.execute("PRAGMA table_info(chunks)")}
            for column, kind in (("svec", "BLOB"), ("tvec", "BLOB"), ("midline", "INTEGER"), ("section", "TEXT"), ("kind", "TEXT"), ("table_head", "TEXT")):  # an older index
                if column not in columns:
                    db.execute(f"ALTER TABLE chunks ADD COLUMN {column} {kind}")
            if "split_version" not in {r[1] for r in db.execute("PRAGMA table_info(files)")}:
                db.execute("ALTER TABLE files ADD COLUMN split_version INTEGER")  # NULL: split before versions

    def connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.connect().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def put_meta(self, key: str, value: str) -> None:
        """Set one meta value in its own transaction."""
        db = self.connect()
        with db:
            self.set_meta(db, key, value)

    def touch_file(self, source: str, size: int, mtime_ns: int) -> None:
        """A file whose content is unchanged got a new size/mtime record (touched, or copied back)."""
        db = self.connect()
        with db:
            db.execute("UPDATE files SET size=?, mtime_ns=? WHERE source=?", (size, mtime_ns, source))

    def add_bare_chunks(self, source: str, rows: list[tuple[str, int, str]]) -> None:
        """Chunks with no file row and no vectors (`qa bench`'s synthetic corpus): (id, ord, text)."""
        db = self.connect()
        with db:
            db.executemany('INSERT INTO chunks(id, source, ord, start, "end", text) VALUES (?,?,?,?,?,?)',
                           [(i, source, o, 0, len(t), t) for i, o, t in rows])
            self.bump_generation(db)

    def generation(self) -> int:
        return int(self.get_meta("generation", "0") or 0)

    def file(self, source: str) -> sqlite3.Row | None:
        return self.connect().execute("SELECT * FROM files WHERE source=?", (source,)).fetchone()

    def files(self) -> list[sqlite3.Row]:
        return self.connect().execute("SELECT * FROM files ORDER BY source").fetchall()

    def chunk_ids(self, source: str) -> set[str]:
        rows = self.connect().execute("SELECT id FROM chunks WHERE source=?", (source,))
        return {r[0] for r in rows}

    def chunks(self, ids: list[str]) -> dict[str, ChunkRecord]:
        out: dict[str, ChunkRecord] = {}
        db = self.connect()
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            q = f'SELECT id, source, ord, start, "end", text, date, page, midline, section, kind, table_head FROM chunks WHERE id IN ({",".join("?" * len(part))})'
            for r in db.execute(q, part):
                out[r[0]] = ChunkRecord(*r[:8], midline=bool(r[8]), section=r[9], kind=r[10], table_head=r[11])
        return out

    def leads(self, records: list[ChunkRecord]) -> dict[str, tuple[int, str, str, int]]:
        """For each chunk, the last sentence of the chunk before it in the same source and on the same
        page that ends where this one starts or earlier: (start offset, text, that chunk's id, the
        sentence's place among that chunk's sentences). Chunks at a source's start, or whose chunk
        before is on another page, are left out."""
        out: dict[str, tuple[int, str, str, int]] = {}
        wanted = [r for r in records if r.ord > 0]
        if not wanted:
            return out
        # One indexed lookup per chunk: a `(source, ord) IN (VALUES ...)` scans the whole table.
        db = self.connect()
        q = "SELECT source, ord, start, text, page, id, midline FROM chunks WHERE source=? AND ord=?"
        before = {(r[0], r[1]): r for r in (db.execute(q, (rec.source, rec.ord - 1)).fetchone() for rec in wanted) if r}
        for rec in wanted:
            row = before.get((rec.source, rec.ord - 1))
            if row is None or row[4] != rec.page:
                continue
            spans = [s for s in split_sentences(row[3], midline=bool(row[6])) if row[2] + s.end <= rec.start]
            if spans:
                out[rec.id] = (row[2] + spans[-1].start, row[3][spans[-1].start : spans[-1].end], row[5], len(spans) - 1)
        return out

    def sentence_vectors(self, ids: list[str], dimension: int) -> dict[str, np.ndarray]:
        """Stored sentence vectors of these chunks (id -> float32 rows, one per sentence of the
        chunk's text in `split_sentences` order); chunks without them are left out."""
        if not ids:
            return {}
        q = f"SELECT id, svec FROM chunks WHERE svec IS NOT NULL AND id IN ({','.join('?' * len(ids))})"
        return {r[0]: np.frombuffer(r[1], dtype=np.float16).reshape(-1, dimension).astype(np.float32)
                for r in self.connect().execute(q, ids)}

    def sentence_tokens(self, ids: list[str], dimension: int) -> dict[str, list[np.ndarray]]:
        """Stored token vectors of these chunks' sentences (id -> one float32 array of unit rows per
        sentence, in `split_sentences` order); chunks without them are left out."""
        if not ids:
            return {}
        q = f"SELECT id, tvec FROM chunks WHERE tvec IS NOT NULL AND id IN ({','.join('?' * len(ids))})"
        return {r[0]: unpack_tokens(r[1], dimension) for r in self.connect().execute(q, ids)}

    def chunk_id_set(self) -> set[str]:
        return {r[0] for r in self.connect().execute("SELECT id FROM chunks")}

    def all_chunks(self) -> list[tuple[str, str]]:
        return self.connect().execute("SELECT id, text FROM chunks ORDER BY source, ord").fetchall()

    def counts(self) -> tuple[int, int]:
        db = self.connect()
        return db.execute("SELECT COUNT(*) FROM files").fetchone()[0], db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def commit_file(self, row: dict, chunks: list[ChunkRecord]) -> None:
        """Record one file and its chunks atomically, and move the generation on."""
        db = self.connect()
        with db:
            # Chunks kept from the previous version of the file keep their sentence vectors.
            kept = {r[0]: (r[1], r[2]) for r in db.execute("SELECT id, svec, tvec FROM chunks WHERE source=?", (row["source"],))}
            db.execute("DELETE FROM chunks WHERE source=?", (row["source"],))
            db.executemany(
                'INSERT OR REPLACE INTO chunks(id, source, ord, start, "end", text, date, page, svec, tvec, midline, section, kind, table_head)'
                ' VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
                [(c.id, c.source, c.ord, c.start, c.end, c.text, c.date, c.page, c.svec or kept.get(c.id, (None, None))[0],
                  c.tvec or kept.get(c.id, (None, None))[1], int(c.midline), c.section, c.kind, c.table_head) for c in chunks],
            )
            db.execute(
                "INSERT OR REPLACE INTO files(source, sha256, size, mtime_ns, date, n_chunks, indexed_at, text_file, split_version)"
                " VALUES (:source, :sha256, :size, :mtime_ns, :date, :n_chunks, :indexed_at, :text_file, :split_version)",
                row,
            )
            self.bump_generation(db)

    def remove_file(self, source: str) -> None:
        db = self.connect()
        with db:
            db.execute("DELETE FROM chunks WHERE source=?", (source,))
            db.execute("DELETE FROM files WHERE source=?", (source,))
            self.bump_generation(db)

    def bump_generation(self, db: sqlite3.Connection) -> None:
        gen = int((db.execute("SELECT value FROM meta WHERE key='generation'").fetchone() or ["0"])[0])
        self.set_meta(db, "generation", str(gen + 1))
        self.set_meta(db, "updated_at", str(time.time()))


def pack_tokens(sentences: list[np.ndarray]) -> bytes:
    """A chunk's sentences' token vectors as bytes: the sentence count and each sentence's token
    count (uint16), then every token's vector in int8, scaled so its largest component is 127
    (unit rows: the reader restores the direction, which is all a cosine needs). A quarter of
    float32's size; cosines to the float32 vectors measured in tests/test_embed.py."""
    counts = np.array([len(sentences), *(len(t) for t in sentences)], dtype=np.uint16)
    rows = np.concatenate([t for t in sentences if len(t)] or [np.zeros((0, 0), np.float32)])
    scale = 127.0 / np.maximum(np.abs(rows).max(axis=1, keepdims=True), 1e-12)
    return counts.tobytes() + np.round(rows * scale).astype(np.int8).tobytes()


def unpack_tokens(blob: bytes, dimension: int) -> list[np.ndarray]:
    """`pack_tokens`' sentences back as float32 unit rows."""
    n = int(np.frombuffer(blob, dtype=np.uint16, count=1)[0])
    counts = np.frombuffer(blob, dtype=np.uint16, count=n + 1)[1:].astype(np.int64)
    rows = np.frombuffer(blob, dtype=np.int8, offset=2 * (n + 1)).reshape(-1, dimension).astype(np.float32)
    rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return np.split(rows, np.cumsum(counts)[:-1])
