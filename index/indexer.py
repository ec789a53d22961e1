"""Indexing runs: paths -> files -> (load, split) -> embed what is new -> store, incrementally.

A file whose size and mtime (or, failing that, content hash) match the manifest is not read
again, unless an earlier version of the splitter split it. A changed file is re-split; only chunks
whose text is new are embedded, chunks that only moved get their offsets updated in place, and
chunks that are gone are deleted. A file is recorded as done only after all of that reached
Chroma, so a killed run is redone cleanly.
Leaves out: parsing (load.py), chunking (split.py), storage details (store.py).
"""
from __future__ import annotations

import bisect
import hashlib
import os
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from index.encoders import span_tokens
from index.errors import ModelMismatchError, UsageError
from index.load import SUPPORTED_SUFFIXES, LoadError, io_error, load_document
from index.manifest import ChunkRecord, Manifest, manifest_path, pack_tokens
from index.settings import Settings
from index.split import (
    SPLIT_VERSION,
    chunk_id,
    chunk_spans,
    split_sentences,
    starts_midline,
)
from index.store import Store, open_store
from index.structure import (
    headings,
    is_reference_list,
    is_reference_section,
    is_residue,
)
from index.tables import table_head

FLUSH_CHUNKS = 256  # embed across files in batches of about this many chunks
# Reference lists and table/figure residue are found by their words (BM25) and never preferred as
# answers, so they are not embedded: in papers they are a third of the words to embed.
KEYWORD_ONLY_KINDS = frozenset({"references", "residue"})


def gets_vector(record: ChunkRecord) -> bool:
    """Whether a chunk gets a vector in Chroma (else it is searched by BM25 alone)."""
    return record.kind not in KEYWORD_ONLY_KINDS


@dataclass
class IndexReport:
    added: int = 0  # chunks added (embedded, or for BM25 alone)
    updated: int = 0  # chunks kept whose offsets changed (no re-embedding)
    deleted: int = 0  # chunks removed (changed or removed files)
    skipped: int = 0  # files unchanged since the last run
    files_indexed: int = 0
    files_removed: int = 0
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    other_types: dict[str, int] = field(default_factory=dict)  # files in the folders it does not read, by suffix
    stages: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("extract", "split", "embed", "store"), 0.0))

    def to_dict(self) -> dict:
        return {
            "added": self.added, "skipped": self.skipped, "deleted": self.deleted, "updated": self.updated,
            "files_indexed": self.files_indexed, "files_removed": self.files_removed,
            "failed": self.failed, "seconds": round(self.seconds, 3), "other_types": self.other_types,
            "stages_s": {k: round(v, 3) for k, v in self.stages.items()},
        }

    def summary(self) -> str:
        line = (
            f"Indexed {self.files_indexed} file(s): {self.added} chunk(s) added, {self.updated} moved, "
            f"{self.deleted} deleted; {self.skipped} unchanged; {len(self.failed)} skipped with errors"
            f" ({self.seconds:.1f}s)."
        )
        lines = [line] + [f"  skipped {f['path']}: {f['error']}" for f in self.failed]
        if self.other_types:
            kinds = ", ".join(f"{n} {suffix}" for suffix, n in sorted(self.other_types.items(), key=lambda kv: (-kv[1], kv[0])))
            lines.append(f"  not read: {sum(self.other_types.values())} file(s) of other types ({kinds}); "
                         f"it reads {' '.join(SUPPORTED_SUFFIXES)}")
        return "\n".join(lines)


def source_name(path: Path) -> str:
    """How a file is named in the index and in citations: relative to the working directory when
    inside it (`seeds/000.txt`), else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


def discover(paths: list[Path]) -> tuple[list[Path], list[str], dict[str, int]]:
    """Files to index under `paths` (sorted, hidden entries skipped), the folder prefixes whose
    vanished files should be dropped from the index, and how many files in the folders are of a
    type it does not read, by suffix. Raises UsageError for a missing path."""
    files: list[Path] = []
    roots: list[str] = []
    other: Counter[str] = Counter()
    for p in paths:
        if not p.exists() and not p.is_symlink():
            raise UsageError(f"no such file or folder: {p}")
        if p.is_dir():
            roots.append(source_name(p).rstrip("/") + "/")
            for dirpath, dirnames, filenames in os.walk(p, followlinks=False):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    if name.lower().endswith(SUPPORTED_SUFFIXES):
                        files.append(Path(dirpath) / name)
                    else:
                        other[Path(name).suffix.lower() or "(no suffix)"] += 1
        else:
            files.append(p)
    return files, roots, dict(other)


def _ranges(doc, cuts: list[int] = ()) -> list[tuple[int, int]]:
    """The stretches of a document's text that are chunked: its body, page by page (so every quote's
    page is its chunk's page) and section by section (`cuts`: where headings start, so a chunk's
    section is every one of its quotes' section), without running headers and footers (`doc.skip`)."""
    bounds = sorted({doc.body_start, len(doc.text), *(max(p, doc.body_start) for p in doc.page_starts[1:]),
                     *(c for c in cuts if c > doc.body_start)})
    out = []
    for lo, hi in zip(bounds, bounds[1:]):
        for a, b in sorted(s for s in doc.skip if lo <= s[0] < hi):
            if a > lo:
                out.append((lo, a))
            lo = max(lo, b)
        if hi > lo:
            out.append((lo, hi))
    return out


def chunk_kind(text: str, section: str | None) -> str | None:
    """None for prose; "references" for a reference list, "residue" for a table's or figure's
    leftovers (pure): indexed, but never preferred as answers over prose."""
    if is_reference_section(section) or is_reference_list(text):
        return "references"
    return "residue" if is_residue(text) else None


def plan_chunks(doc, settings: Settings) -> list[ChunkRecord]:
    """A loaded document -> its chunk records (pure: ids from source+text, offsets as metadata),
    each with the section heading it sits under."""
    seen: Counter[str] = Counter()
    records = []
    heads = headings(doc.text)
    at = [doc.text.rfind("\n", 0, h[0]) + 1 for h in heads]  # where each heading's line starts ("## Speed", not "Speed")
    spans = [s for lo, hi in _ranges(doc, at)
             for s in chunk_spans(doc.text, lo, settings.chunk_words, settings.chunk_overlap_sentences, end=hi)]
    for i, span in enumerate(spans):
        text = doc.text[span.start : span.end]
        cid = chunk_id(doc.source, text, seen[text])
        seen[text] += 1
        k = bisect.bisect_right(at, span.start) - 1
        section = heads[k][1] if k >= 0 else None
        records.append(ChunkRecord(cid, doc.source, i, span.start, span.end, text, doc.date, doc.page_at(span.start),
                                   midline=starts_midline(doc.text, span.start), section=section,
                                   kind=chunk_kind(text, section), table_head=table_head(doc.text, span.start)))
    return records


def embed_chunks(embeddings, records: list[ChunkRecord]) -> tuple[np.ndarray, list[bytes | None], list[bytes | None]]:
    """Chunk vectors, each chunk's sentence vectors as float16 bytes (rows in `split_sentences`
    order) and its sentences' token vectors (`pack_tokens`), where the model gives them from the
    same pass; None where it does not."""
    texts = [r.text for r in records]
    spans = [[(s.start, s.end) for s in split_sentences(r.text, midline=r.midline)] for r in records]
    vectors, parts, states = embeddings.encode_chunks(texts, spans)
    svecs = [None if part is None else np.asarray(part, dtype=np.float16).tobytes() for part in parts]
    tvecs = [None if st is None else pack_tokens(span_tokens(st, t, sp)) for st, t, sp in zip(states, texts, spans)]
    return vectors, svecs, tvecs


@dataclass
class _Pending:
    row: dict
    records: list[ChunkRecord]


class Indexer:
    def __init__(self, store: Store, settings: Settings, progress: bool = True):
        self.store = store
        self.settings = settings
        self.progress = progress
        self.report = IndexReport()
        self._pending: list[_Pending] = []
        from index.sandbox import BoundedRunner

        self.runner = BoundedRunner(settings.parse_timeout_s, settings.parse_memory_mb)

    def check_model(self) -> None:
        model = getattr(self.store.embeddings, "model_id", type(self.store.embeddings).__name__)
        built_with = self.store.manifest.get_meta("model")
        if built_with and built_with != model:
            raise ModelMismatchError(
                f"the index in {self.settings.data_dir} was built with {built_with}, not {model}; "
                f"index into a new QA_DATA_DIR (or delete {self.settings.data_dir}) to switch models"
            )
        if not built_with:
            self.store.manifest.put_meta("model", model)

    def run(self, paths: list[Path]) -> IndexReport:
        t0 = time.perf_counter()
        files, roots, self.report.other_types = discover(paths)
        self.check_model()
        seen: set[str] = set()
        from tqdm import tqdm

        bar = tqdm(files, desc="indexing", unit="file", disable=None if self.progress else True, leave=False)
        try:
            for path in bar:
                source = source_name(path)
                if source in seen:  # named twice (a folder and a file in it)
                    continue
                seen.add(source)
                try:
                    self._index_file(path, source)
                except LoadError as e:
                    self.report.failed.append({"path": source, "error": str(e)})
                    self.forget(source)
                if sum(len(p.records) for p in self._pending) >= FLUSH_CHUNKS:
                    self._flush()
            self._flush()
        finally:
            self.runner.close()
        for root in roots:
            for row in self.store.manifest.files():
                if row["source"].startswith(root) and row["source"] not in seen:
                    self.forget(row["source"])
        t = time.perf_counter()
        self.store.refresh_bm25()
        self.report.stages["store"] += time.perf_counter() - t
        self.report.seconds = time.perf_counter() - t0
        return self.report

    def forget(self, source: str) -> None:
        """Drop a file that is gone (or now unreadable) from the vector store and the manifest."""
        if self.store.manifest.file(source) is None:
            return
        ids = sorted(self.store.manifest.chunk_ids(source))
        self.store.collection.delete(where={"source": source})
        self.store.manifest.remove_file(source)
        self.report.deleted += len(ids)
        self.report.files_removed += 1

    def _index_file(self, path: Path, source: str) -> None:
        try:
            st = path.stat()
        except OSError as e:
            raise io_error(e) from None
        old = self.store.manifest.file(source)
        if old and old["split_version"] != SPLIT_VERSION:
            old = None  # split by an earlier splitter: split again (chunks whose text is the same stay)
        if old and old["size"] == st.st_size and old["mtime_ns"] == st.st_mtime_ns:
            self.report.skipped += 1
            return
        try:
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as e:
            raise io_error(e) from None
        if old and old["sha256"] == sha:
            self.report.skipped += 1
            self.store.manifest.touch_file(source, st.st_size, st.st_mtime_ns)
            return
        t = time.perf_counter()
        doc = load_document(path, source, runner=self.runner, max_bytes=self.settings.max_file_mb * 2**20)
        t1 = time.perf_counter()
        records = plan_chunks(doc, self.settings)
        self.report.stages["extract"] += t1 - t
        self.report.stages["split"] += time.perf_counter() - t1
        if not records:
            raise LoadError("no text to index")
        text_file = self.store.save_text(source, doc.text)
        row = {
            "source": source, "sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "date": doc.date, "n_chunks": len(records), "indexed_at": time.time(), "text_file": text_file,
            "split_version": SPLIT_VERSION,
        }
        self._pending.append(_Pending(row, records))

    def _in_store(self, sources: list[str]) -> dict[str, dict[str, dict]]:
        """What Chroma holds for these sources (id -> metadata), in one query per batch of files:
        Chroma, not the manifest, is the truth after an interrupted run."""
        out: dict[str, dict[str, dict]] = {s: {} for s in sources}
        got = self.store.collection.get(where={"source": {"$in": sources}}, include=["metadatas"])
        for cid, md in zip(got["ids"], got["metadatas"]):
            out[md["source"]][cid] = md
        return out

    def _flush(self) -> None:
        """Store the pending files: embed chunks Chroma lacks, rewrite moved chunks' offsets in place,
        delete chunks that are gone (or no longer `gets_vector`); then, and only then, record the files
        in the manifest, which holds every chunk (BM25 reads them there)."""
        if not self._pending:
            return
        t_flush, embed_before = time.perf_counter(), self.report.stages["embed"]
        held = self._in_store([p.row["source"] for p in self._pending])
        embed, update, stale = [], [], []
        added = updated = deleted = 0  # of the chunks searched by BM25 alone (the manifest's)
        for p in self._pending:
            existing = held[p.row["source"]]
            dense = [r for r in p.records if gets_vector(r)]
            embed += [r for r in dense if r.id not in existing]
            update += [r for r in dense if r.id in existing and existing[r.id] != r.metadata()]
            stale += sorted(set(existing) - {r.id for r in dense})
            known = self.store.manifest.chunks(sorted(self.store.manifest.chunk_ids(p.row["source"]) - set(existing)))
            for r in p.records:
                if r.id not in existing and not gets_vector(r):
                    old = known.get(r.id)
                    added += old is None
                    updated += old is not None and (old.start, old.end, old.ord) != (r.start, r.end, r.ord)
            deleted += len(set(known) - {r.id for r in p.records})
        batch = self.store.max_batch_size
        embedded: dict[str, dict[str, bytes | None]] = {}  # the chunks embedded now: id -> their svec and tvec
        for i in range(0, len(embed), batch):
            part = embed[i : i + batch]
            t = time.perf_counter()
            vectors, sentences, tokens = embed_chunks(self.store.embeddings, part)
            self.report.stages["embed"] += time.perf_counter() - t
            self.store.collection.add(ids=[r.id for r in part], embeddings=vectors, documents=[r.text for r in part],
                                      metadatas=[r.metadata() for r in part])
            embedded.update((r.id, {"svec": sv, "tvec": tv}) for r, sv, tv in zip(part, sentences, tokens))
        for i in range(0, len(update), batch):
            part = update[i : i + batch]
            self.store.collection.update(ids=[r.id for r in part], metadatas=[r.metadata() for r in part])
        for i in range(0, len(stale), batch):
            self.store.collection.delete(ids=stale[i : i + batch])
        for p in self._pending:
            records = [replace(r, **embedded.get(r.id, {})) for r in p.records]
            self.store.manifest.commit_file(p.row, records)
            self.report.files_indexed += 1
        self.report.stages["store"] += time.perf_counter() - t_flush - (self.report.stages["embed"] - embed_before)
        self.report.added += len(embed) + added
        self.report.updated += len(update) + updated
        self.report.deleted += len(stale) + deleted
        self._pending = []


def up_to_date(paths: list[Path], settings: Settings) -> IndexReport | None:
    """A report of 'nothing to do' when every file under `paths` matches the manifest by size and
    mtime and none has vanished; else None. Reads only the manifest and the file system, so an
    unchanged re-run never imports torch or Chroma."""
    path = manifest_path(settings.data_dir)
    if not path.exists() or settings.chroma_url:
        return None
    t0 = time.perf_counter()
    files, roots, other = discover(paths)
    manifest = Manifest(path)
    if manifest.get_meta("model") != _model_id(settings):
        return None
    rows = {r["source"]: r for r in manifest.files()}
    seen = set()
    for path in files:
        source = source_name(path)
        seen.add(source)
        row = rows.get(source)
        try:
            st = path.stat()
        except OSError:
            return None
        if row is None or row["size"] != st.st_size or row["mtime_ns"] != st.st_mtime_ns or row["split_version"] != SPLIT_VERSION:
            return None
    if any(src.startswith(root) and src not in seen for src in rows for root in roots):
        return None
    return IndexReport(skipped=len(files), seconds=time.perf_counter() - t0, other_types=other)


def _model_id(settings: Settings) -> str:
    from index import EMBEDDING_MODELS

    return EMBEDDING_MODELS.get(settings.embedding, settings.embedding)


def index_paths(paths: list[Path], settings: Settings, store: Store | None = None, progress: bool = True) -> IndexReport:
    """Build or update the index for `paths`. Holds the writer lock for the whole run."""
    store = store or open_store(settings)
    with store.writer():
        return Indexer(store, settings, progress=progress).run(paths)


def remove_document(source: str, settings: Settings, store: Store | None = None) -> int:
    """Remove one document and its chunks from the index; returns the number of chunks removed."""
    store = store or open_store(settings)
    with store.writer():
        indexer = Indexer(store, settings, progress=False)
        indexer.forget(source)
        store.refresh_bm25()
        return indexer.report.deleted
