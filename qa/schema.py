"""Citations are data: the types every stage passes along and the UI and CLI render.

`Passage` is a retrieved chunk; `Citation` points at the exact span of a source that supports a
sentence of the answer; `Answer` is what the chain returns.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk of a source, with where it sits in the source's text and how it ranked."""

    id: str
    source: str
    start: int
    end: int
    text: str
    date: str | None = None
    page: int | None = None
    section: str | None = None  # the heading of the section it is in ("3.2 Dynamic masking")
    kind: str | None = None  # None: prose; "references" or "residue": quoted only when no prose answers
    table_head: str | None = None  # the header row of the table it opens inside of
    dense_score: float | None = None
    dense_rank: int | None = None
    bm25_score: float | None = None
    bm25_rank: int | None = None
    fused_score: float = 0.0
    fused_rank: int | None = None  # its place in the fused order, before reranking
    sentence_score: float | None = None  # its best sentence's score, when reranked (rerank.py)
    # The sentence just before the chunk in its source (from the chunk before, on the same page), for
    # a first sentence that refers back to it ("It was founded ..."); None at a source's start.
    lead_start: int | None = None
    lead_text: str | None = None
    lead_chunk: str | None = None  # the chunk the lead is in, and its place among that chunk's sentences
    lead_index: int | None = None
    midline: bool = False  # the chunk starts in the middle of a line of its source (split.starts_midline)
    reader_score: float | None = None  # how likely the reader found it answers the question (qa/reader.py)


@dataclass(frozen=True)
class Citation:
    """Marker `[n]` in an answer: `quote == text_of(source)[start:end]`."""

    n: int
    source: str
    start: int
    end: int
    quote: str
    score: float
    date: str | None = None
    page: int | None = None
    passage_id: str | None = None
    section: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AnswerSpan:
    """The exact answer inside the answer's citation `n`: `text == text_of(source)[start:end]`."""

    text: str
    source: str
    start: int
    end: int
    n: int = 1

    def to_dict(self) -> dict:
        return {"text": self.text, "source": self.source, "start": self.start, "end": self.end}


@dataclass
class Answer:
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    nearest: list[Citation] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    query: str = ""  # the retrieval query actually used (after follow-up rewriting)
    passages: list[Passage] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # generative sentences that failed the check
    answerer: str = "extractive"
    # Names in the question that no indexed document has: the documents are silent on them, so the
    # passages cited are only the closest matches (render.py says so beside the answer).
    unmatched: list[str] = field(default_factory=list)
    # Words of the question that no indexed document has, each with the retrieved passages' word
    # closest to it in spelling ("civilans" -> "civilians"): said beside the answer, never applied.
    suggestions: dict[str, str] = field(default_factory=dict)
    span: AnswerSpan | None = None  # the reader's answer inside the quoted sentence(s)
    # How sure the reader is that the passages hold an answer (None without a reader): what abstention compares
    # with its threshold.
    confidence: float | None = None

    def to_dict(self) -> dict:
        return {
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_dict() for c in self.citations],
            "nearest": [c.to_dict() for c in self.nearest],
            "unsupported": list(self.unsupported),
            "unmatched": list(self.unmatched),
            "suggestions": dict(self.suggestions),
            "answer_span": self.span.to_dict() if self.span else None,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "query": self.query,
            "answerer": self.answerer,
            "timings_ms": {k: round(v, 2) for k, v in self.timings.items()},
        }
