"""The reader: (question, passages) -> how likely each passage answers it, the answer span, and a
score for each sentence.

A MiniLM fine-tuned for extractive question answering by `qa train-reader` (qa/training/):
it reads the question with a window of whole sentences and gives, per token, how likely the answer
starts and ends there (the [CLS] token standing for "no answer"), and for the window, how likely it
holds an answer at all. It runs on ONNX Runtime from an int8 export with its tokenizer.json, so
answering needs no torch. `QA_READER` picks it: `shipped` (models/reader/, committed with its model
card), a folder `qa train-reader` wrote, or `none` for the bi-encoder sentence score alone.
`read` is the I/O-free core over logits given by a runtime; `Reader` runs the model.
"""
from __future__ import annotations

import json
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.errors import UsageError
from qa.cite import Sentence

MAX_TOKENS = 192
WINDOW_WORDS = 110  # a passage is read in windows of whole sentences up to this many words
MAX_ANSWER_TOKENS = 30
# Which passage answers: the reader's answerability logit less this much per place down retrieval's
# order; the reranked order knows which passage is about the question, which one window cannot
# (fitted on validation questions: docs/reader.md, "Which passage answers").
RANK_PRIOR = 0.5
SHIPPED = Path(__file__).resolve().parent.parent / "models" / "reader"


def shipped_dir() -> Path:
    return SHIPPED


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def logit(p: float, eps: float = 1e-6) -> float:
    p = min(max(p, eps), 1.0 - eps)
    return math.log(p / (1.0 - p))


@dataclass(frozen=True)
class Abstention:
    """How sure the assistant is that the passages answer (pure): the reader's best answerability
    weighed with the best dense similarity of the passages to the question, by a logistic regression
    fitted when the reader is calibrated (qa/training/calibrate.py). The similarity says whether the
    documents are about the question at all, which the reader, reading one window, cannot. The default
    weights give the answerability alone."""

    head: float = 1.0  # on the logit of the answerability
    dense: float = 0.0  # on the best cosine similarity (0 when no passage came from the dense search)
    bias: float = 0.0

    def confidence(self, answerable: float, dense: float | None) -> float:
        return sigmoid(self.head * logit(answerable) + self.dense * (dense or 0.0) + self.bias)

    def needed(self, threshold: float, dense: float | None) -> float:
        """The answerability at which `confidence` reaches `threshold` for this similarity."""
        return sigmoid((logit(threshold) - self.bias - self.dense * (dense or 0.0)) / self.head)


@dataclass(frozen=True)
class Span:
    """The reader's answer in a passage: `text == passage.text[start:end]`, offsets into the passage."""

    passage: int
    start: int
    end: int
    text: str
    score: float  # start + end logits, minus the no-answer score of its window


@dataclass
class Reading:
    """What the reader made of one question over its passages."""

    has_answer: list[float]  # per passage: the answerability head's probability (its best window)
    spans: list[Span | None]  # per passage: its best span (None: nothing readable)
    sentence_scores: dict[tuple[int, int], float] = field(default_factory=dict)  # (passage, start in source) -> score
    unread: frozenset[int] = frozenset()  # passages left unread: an earlier one answered surely enough

    def best(self, preferred: list[bool] | None = None, threshold: float = 0.0) -> Span | None:
        """The answer: the best span of the passage most likely to answer, its answerability weighed
        with its place in retrieval's order (`RANK_PRIOR`); of the `preferred` passages first, when
        one of them answers at `threshold` or above."""
        if not self.spans:
            return None
        order = sorted(range(len(self.spans)), key=lambda i: RANK_PRIOR * i - logit(self.has_answer[i]))
        if preferred is not None and any(preferred[i] and self.has_answer[i] >= threshold for i in order):
            order = [i for i in order if preferred[i]] + [i for i in order if not preferred[i]]
        return next((self.spans[i] for i in order if self.spans[i] is not None), None)

    @property
    def answerable(self) -> float:
        """How likely any passage answers the question: the abstention score."""
        return max(self.has_answer, default=0.0)


def windows(sentences: list[tuple[int, int]], text: str, words: int = WINDOW_WORDS) -> list[tuple[int, int]]:
    """Runs of whole sentences (character spans of `text`) of at most `words` words each (a longer
    sentence alone), covering every sentence once (pure)."""
    out, cur, count = [], None, 0
    for a, b in sentences:
        n = len(text[a:b].split())
        if cur is not None and count + n > words:
            out.append(cur)
            cur, count = None, 0
        cur = (a, b) if cur is None else (cur[0], b)
        count += n
    if cur is not None:
        out.append(cur)
    return out


def span_scores(start: np.ndarray, end: np.ndarray, context: np.ndarray, max_len: int = MAX_ANSWER_TOKENS,
                sentence: np.ndarray | None = None) -> np.ndarray:
    """Every span's score start[i] + end[j] (pure): -inf unless i <= j < i + max_len, both in the
    context and, given each token's `sentence`, both in the same sentence (an answer quoted in one
    sentence is marked in it)."""
    n = len(start)
    s = np.where(context, start, -np.inf)
    e = np.where(context, end, -np.inf)
    i, j = np.indices((n, n))
    ok = (j >= i) & (j < i + max_len)
    if sentence is not None:
        ok &= (sentence[:, None] == sentence[None, :]) & (sentence[:, None] >= 0)
    return np.where(ok, s[:, None] + e[None, :], -np.inf)


class Reader:
    """The reader model on ONNX Runtime, loaded on first use (thread-safe)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        onnx_file, tok_file = self.folder / "reader.onnx", self.folder / "tokenizer.json"
        if not onnx_file.is_file() or not tok_file.is_file():
            raise UsageError(f"QA_READER={folder}: no reader there (reader.onnx and tokenizer.json); "
                             "give a folder `qa train-reader --out` wrote, `shipped`, or `none`")
        card = self.folder / "reader.json"
        self.card = json.loads(card.read_text()) if card.is_file() else {}
        self._lock = threading.Lock()
        self._session = None
        self._tokenizer = None
        self._pool: ThreadPoolExecutor | None = None

    @property
    def threshold(self) -> float:
        """The abstention threshold calibrated for this reader on its validation data (model card)."""
        return float(self.card.get("threshold", 0.5))

    @property
    def abstention(self) -> Abstention:
        """How its confidence is computed, fitted with the threshold (model card; older cards: the answerability alone)."""
        a = self.card.get("abstention") or {}
        return Abstention(**{k: float(a[k]) for k in ("head", "dense", "bias") if k in a})

    def _load(self):
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = 1  # windows run side by side, one a core (as index.encoders does)
                opts.inter_op_num_threads = 1
                opts.log_severity_level = 3
                tok = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
                tok.no_padding()
                tok.enable_truncation(MAX_TOKENS, strategy="only_second")
                self._tokenizer = tok
                self._session = ort.InferenceSession(str(self.folder / "reader.onnx"), opts, providers=["CPUExecutionProvider"])
                workers = os.cpu_count() or 1
                self._pool = ThreadPoolExecutor(workers, thread_name_prefix="reader") if workers > 1 else None
        return self._session, self._tokenizer

    def logits(self, question: str, contexts: list[str]) -> list[tuple[np.ndarray, np.ndarray, float, list, list]]:
        """Per context: start and end logits per token, the answerability logit, the tokens'
        character offsets and sequence ids (0 question, 1 context, None special)."""
        if not contexts:
            return []
        session, tok = self._load()

        # one pass a window, unpadded: a window's int8 activations are then scaled by its own values
        # alone, so its scores never depend on what else was retrieved; single-threaded passes side by
        # side, one a core, beat one pass split across the cores (docs/performance.md)
        def run(e):
            ids = np.array([e.ids], dtype=np.int64)
            start, end, has = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                                 "token_type_ids": np.array([e.type_ids], dtype=np.int64)})
            return start[0], end[0], float(has[0]), e.offsets, e.sequence_ids

        encodings = tok.encode_batch([(question, c) for c in contexts])
        return list(self._pool.map(run, encodings) if self._pool and len(encodings) > 1 else map(run, encodings))

    @property
    def workers(self) -> int:
        return os.cpu_count() or 1

    def read(self, question: str, passages: list, sentences: list[Sentence], stop: float | None = None,
             preferred: list[bool] | None = None) -> Reading:
        """Read the passages (in windows of whole sentences, in their order) against the question.
        With `stop`, windows are read a core's worth at a time, and reading ends once a `preferred`
        passage (any, if not given) answers with at least that probability: the rest could only
        add a likelier passage, never turn the answer into an abstention when `stop` is at or
        above the threshold."""
        by_passage: dict[int, list[Sentence]] = {}
        for s in sentences:
            by_passage.setdefault(s.passage, []).append(s)
        from index.tables import table_view

        jobs = []  # (passage, window start in the passage's text, window text, its sentences)
        views = []  # what the reader reads of each window (a table row with its header's names), and where each character is from
        for pi, sents in by_passage.items():
            p = passages[pi]
            local = [(s.start - p.start, s.end - p.start) for s in sents]
            for a, b in windows(local, p.text):
                inside = [s for s, (x, y) in zip(sents, local) if a <= x and y <= b]
                jobs.append((pi, a, p.text[a:b], inside))
                views.append(table_view(p.text, a, b, p.table_head))
        texts = [v[0] for v in views]
        if stop is None:
            outs = self.logits(question, texts)
        else:
            outs = []
            for k in range(0, len(texts), self.workers):
                outs += self.logits(question, texts[k:k + self.workers])
                if any(sigmoid(o[2]) >= stop and (preferred is None or preferred[job[0]]) for o, job in zip(outs, jobs)):
                    break
        done = {job[0] for job in jobs[:len(outs)]}
        jobs = jobs[:len(outs)]
        outs = [(st, en, has, [(where[o[0]], where[max(o[1] - 1, o[0])] + (o[1] > o[0])) if s == 1 else o
                                for o, s in zip(offsets, seq)], seq)
                for (st, en, has, offsets, seq), (_, where) in zip(outs, views)]
        reading = read(jobs, outs, passages, len(passages))
        reading.unread = frozenset(pi for pi in by_passage if pi not in done)
        return reading


def read(jobs: list, outs: list, passages: list, n_passages: int) -> Reading:
    """Combine the windows' logits into a Reading (pure): each passage keeps its best window's
    answerability and span; each sentence's score is its best span's margin over no answer, as a
    probability."""
    has = [0.0] * n_passages
    spans: list[Span | None] = [None] * n_passages
    sent_scores: dict[tuple[int, int], float] = {}
    for (pi, w_start, w_text, inside), (start, end, has_logit, offsets, seq) in zip(jobs, outs):
        context = np.array([s == 1 for s in seq])
        if not context.any():
            continue
        p = passages[pi]
        char_start = np.array([o[0] for o in offsets])
        sentence = np.full(len(offsets), -1)
        for k, s in enumerate(inside):
            lo, hi = s.start - p.start - w_start, s.end - p.start - w_start
            sentence[context & (char_start >= lo) & (char_start < hi)] = k
        scores = span_scores(start, end, context, sentence=sentence)
        null = float(start[0] + end[0])
        best_end = scores.argmax(axis=1)
        best_per_start = scores[np.arange(len(start)), best_end]
        if not np.isfinite(best_per_start).any():  # no sentence in what was read
            continue
        i = int(np.argmax(best_per_start))
        j = int(best_end[i])
        a, b = offsets[i][0], offsets[j][1]
        has_p = sigmoid(has_logit)
        margin = float(best_per_start[i]) - null
        if has_p > has[pi] or spans[pi] is None:
            has[pi] = max(has[pi], has_p)
            text = w_text[a:b]
            spans[pi] = Span(pi, w_start + a, w_start + b, text, margin)
        for k, s in enumerate(inside):
            toks = np.where(sentence == k)[0]
            if len(toks) and np.isfinite(best_per_start[toks]).any():
                m = float(best_per_start[toks].max()) - null
                sent_scores[(pi, s.start)] = max(sent_scores.get((pi, s.start), 0.0), sigmoid(m))
    return Reading(has, spans, sent_scores)


_LOADED: dict[str, Reader] = {}
_LOADED_LOCK = threading.Lock()


def build_reader(name: str) -> Reader | None:
    """`QA_READER`: `shipped`, a folder, or `none` (the bi-encoder answerer)."""
    if name.strip().lower() in ("none", "off", ""):
        return None
    folder = SHIPPED if name.strip().lower() == "shipped" else Path(name).expanduser()
    key = str(folder.resolve())
    with _LOADED_LOCK:  # a thread warming it up and the chain get the same one
        if key not in _LOADED:
            _LOADED[key] = Reader(folder)
        return _LOADED[key]
