"""The BM25 index beside the vector store: a persisted bm25s index plus an in-memory delta.

The main index is built with bm25s over every chunk and saved to disk, tagged with the manifest
generation it reflects; it is never rebuilt per query. When files change, the chunks added since
are scored in a small delta (with the main index's statistics: document frequencies, count, mean
length) and the chunks removed since are masked out of the main index, so an edit costs work in
proportion to the edit. When the delta grows past a share of the corpus, the main index is rebuilt
and the delta starts empty again. Scores in the delta use the main index's idf, which drifts a
little from exact BM25 until the next rebuild.

bm25s builds and saves the main index; searching reads its saved arrays with NumPy and scores them
as bm25s does (`_Scores`), and words are tokenized here as bm25s tokenizes them, so that answering a
question never imports bm25s, and SciPy with it (a fifth of a `qa ask`; tests/integration/test_bm25.py
checks both against bm25s).
"""
from __future__ import annotations

import ast
import bisect
import functools
import importlib.util
import json
import math
import os
import re
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.text import fold, stemmer

REBUILD_SHARE = 0.10  # rebuild the main index when the delta exceeds this share of it
REBUILD_MIN = 2000  # ... and at least this many chunks (small corpora rebuild in no time anyway)

# The tokenizer's version, saved with the index: an index saved by another is rebuilt on load.
# 2: accents folded ("Möngke" and "Mongke" meet).
TOKENIZER = 2
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s.tokenize's token pattern


@functools.cache
def stopwords() -> frozenset[str]:
    """bm25s's English stopwords, read from its source file: the list stays the library's, and
    reading it does not import bm25s."""
    path = Path(importlib.util.find_spec("bm25s").submodule_search_locations[0]) / "stopwords.py"
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "STOPWORDS_EN" for t in node.targets):
            return frozenset(ast.literal_eval(node.value))
    raise LookupError(f"no STOPWORDS_EN in {path}")


def tokenize(texts: list[str]) -> list[list[str]]:
    """The one tokenizer for BM25, indexing and querying alike, as `bm25s.tokenize(stopwords="en")`
    reads text: accents folded, lower case, words of two characters or more, English stopwords
    out, Snowball stems."""
    stop, stem = stopwords(), stemmer().stemWords
    return [stem([w for w in _TOKEN.findall(fold(t).lower()) if w not in stop]) for t in texts]


@dataclass
class _Scores:
    """The main index as bm25s saves it: each term's precomputed BM25 score per document (CSC)."""

    vocab: dict[str, int]
    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    num_docs: int

    @classmethod
    def of(cls, model) -> _Scores:
        sc = model.scores
        return cls(model.vocab_dict, sc["data"], sc["indices"], sc["indptr"], int(sc["num_docs"]))

    @classmethod
    def read(cls, directory: Path) -> _Scores:
        params = json.loads((directory / "params.index.json").read_text())
        vocab = json.loads((directory / "vocab.index.json").read_text(encoding="utf-8"))
        arrays = [np.load(directory / f"{name}.csc.index.npy") for name in ("data", "indices", "indptr")]
        return cls(vocab, *arrays, int(params["num_docs"]))

    def df(self, term: str) -> int:
        t = self.vocab.get(term)
        return 0 if t is None else int(self.indptr[t + 1] - self.indptr[t])

    def top(self, terms: list[str], k: int, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The `k` best documents for `terms` (all in the vocabulary) and their scores, best first:
        `BM25.retrieve`'s sums, mask and top-k selection, step for step (so ties fall alike)."""
        ids = np.asarray([self.vocab[t] for t in terms], dtype=np.int32)
        scores = np.zeros(self.num_docs, dtype=self.data.dtype)
        for a, b in zip(self.indptr[ids], self.indptr[ids + 1]):
            np.add.at(scores, self.indices[a:b], self.data[a:b])
        if mask is not None:
            scores *= mask
        part = np.argpartition(scores, -k).take(indices=range(-k, 0))
        part_scores = np.take(scores, part)
        order = np.flip(np.argsort(part_scores))
        return part[order], part_scores[order]


class Bm25Index:
    def __init__(self, directory: Path):
        self.directory = directory
        self._main = None
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._avgdl = 1.0
        self._generation = -1
        self._mask: np.ndarray | None = None
        self._delta_ids: list[str] = []
        self._postings: dict[str, list[tuple[int, int]]] = {}
        self._delta_len: list[int] = []
        self._delta_df: Counter = Counter()
        self._sorted_vocab: list[str] | None = None

    # -- the main index ---------------------------------------------------------------------
    def build(self, rows: list[tuple[str, str]], generation: int) -> None:
        import bm25s

        tmp = self.directory.with_name(self.directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        ids = [r[0] for r in rows]
        model, avgdl = None, 1.0
        if rows:
            tokens = tokenize([r[1] for r in rows])
            avgdl = float(np.mean([len(t) for t in tokens])) or 1.0
            model = bm25s.BM25()
            model.index(tokens, show_progress=False)
            model.save(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps({"generation": generation, "ids": ids, "avgdl": avgdl, "tokenizer": TOKENIZER}))
        # Swap in whole: a reader never sees a half-written index.
        old = self.directory.with_name(self.directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.directory.exists():
            os.replace(self.directory, old)
        os.replace(tmp, self.directory)
        shutil.rmtree(old, ignore_errors=True)
        self._set_main(_Scores.of(model) if model is not None else None, ids, avgdl, generation)

    def load(self) -> None:
        meta = json.loads((self.directory / "ids.json").read_text())
        main = _Scores.read(self.directory) if meta["ids"] else None
        self._set_main(main, meta["ids"], meta.get("avgdl", 1.0), meta["generation"])

    def _set_main(self, main: _Scores | None, ids: list[str], avgdl: float, generation: int) -> None:
        self._main, self._ids, self._avgdl, self._generation = main, ids, avgdl, generation
        self._sorted_vocab = None  # made when first needed (`unseen`)
        self._row = {cid: i for i, cid in enumerate(ids)}
        self._mask, self._delta_ids, self._postings, self._delta_len, self._delta_df = None, [], {}, [], Counter()

    def stored_generation(self) -> int:
        """The manifest generation the saved index reflects; -1 when there is none, or it was
        tokenized otherwise (so it is rebuilt)."""
        try:
            meta = json.loads((self.directory / "ids.json").read_text())
            return meta["generation"] if meta.get("tokenizer") == TOKENIZER else -1
        except (OSError, ValueError, KeyError):
            return -1

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def loaded(self) -> bool:
        return self._generation >= 0

    @property
    def main_ids(self) -> set[str]:
        return set(self._ids)

    # -- the delta --------------------------------------------------------------------------
    def needs_rebuild(self, changed: int) -> bool:
        return changed > max(REBUILD_MIN, REBUILD_SHARE * len(self._ids))

    def apply_delta(self, added: list[tuple[str, str]], removed: set[str], generation: int) -> None:
        """Bring the index to `generation`: `added` chunks (id, text) not in the main index, and
        main-index chunks now `removed`. Replaces any earlier delta."""
        self._mask = None
        if removed and self._ids:
            self._mask = np.ones(len(self._ids), dtype=np.float32)
            self._mask[[self._row[i] for i in removed if i in self._row]] = 0.0
        self._delta_ids = [a[0] for a in added]
        self._postings = defaultdict(list)
        self._delta_len = []
        self._delta_df = Counter()
        for doc, tokens in enumerate(tokenize([a[1] for a in added]) if added else []):
            self._delta_len.append(len(tokens))
            for term, tf in Counter(tokens).items():
                self._postings[term].append((doc, tf))
                self._delta_df[term] += 1
        self._generation = generation

    def _main_df(self, term: str) -> int:
        return 0 if self._main is None else self._main.df(term)

    def idf(self, terms) -> dict[str, float]:
        """BM25's (Lucene's) idf of each term, over main + delta (removed chunks still count
        until the next rebuild): rare terms weigh most, and a term no chunk has, most of all."""
        n = len(self._ids) + len(self._delta_ids)
        out = {}
        for term in terms:
            df = self._main_df(term) + self._delta_df[term]
            out[term] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return out

    def word_idf(self, words: list[str]) -> dict[str, float | None]:
        """Each word's idf as BM25 reads the word (the mean over its tokens: "China's" is "china");
        None for a word BM25 does not index (a stopword of its list, a single letter)."""
        tokens = tokenize(list(words)) if words else []
        return {w: float(np.mean(list(self.idf(t).values()))) if t else None for w, t in zip(words, tokens)}

    def unseen(self, words: list[str], prefix: int = 4) -> list[str]:
        """The words no indexed chunk has, as BM25 reads them (main + delta). A word's term also
        counts as seen when a term of the index starts with it, or it starts with one, at least
        `prefix` letters long: "Palestine" is seen in "Palestinian", "Normans" in "Normandy"."""
        if self._sorted_vocab is None:
            self._sorted_vocab = sorted(self._main.vocab) if self._main is not None else []
        vocab = self._sorted_vocab

        def has(term: str) -> bool:
            return self._main_df(term) > 0 or self._delta_df[term] > 0

        def seen(term: str) -> bool:
            if has(term):
                return True
            if len(term) < prefix:
                return False
            i = bisect.bisect_left(vocab, term)
            if i < len(vocab) and vocab[i].startswith(term) and has(vocab[i]):
                return True
            return any(has(t) for t in self._delta_df if t.startswith(term)) or \
                any(has(term[:k]) for k in range(prefix, len(term)))

        tokens = tokenize(list(words)) if words else []
        return [w for w, terms in zip(words, tokens) if terms and not any(seen(t) for t in terms)]

    def _delta_scores(self, terms: list[str]) -> dict[int, float]:
        """Lucene BM25 over the delta, with corpus statistics of main + delta."""
        k1, b = 1.5, 0.75
        scores: dict[int, float] = defaultdict(float)
        for term, idf in self.idf({t for t in terms if t in self._postings}).items():
            for doc, tf in self._postings[term]:
                norm = k1 * (1 - b + b * self._delta_len[doc] / self._avgdl)
                scores[doc] += idf * tf * (k1 + 1) / (tf + norm)
        return scores

    # -- search -----------------------------------------------------------------------------
    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        terms = tokenize([query])[0]
        hits: list[tuple[str, float]] = []
        if self._main is not None and self._ids:
            known = [t for t in terms if t in self._main.vocab]
            if known:
                n = min(k, len(self._ids))  # masked chunks score 0 and are dropped below
                docs, scores = self._main.top(known, n, self._mask)
                hits += [(self._ids[int(d)], float(s)) for d, s in zip(docs, scores) if s > 0]
        if self._delta_ids:
            hits += [(self._delta_ids[d], s) for d, s in self._delta_scores(terms).items() if s > 0]
        hits.sort(key=lambda h: -h[1])
        return hits[:k]
