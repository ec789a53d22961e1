"""One typed settings object, read from the environment (prefix `QA_`) once and passed in.

Only this module reads or sets the environment. Everything else receives a `Settings`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.errors import UsageError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    # Where the index lives: Chroma, the BM25 index, the record of indexed files, text copies.
    data_dir: Path = Path(".qa")
    # `http://host:port` switches from the embedded Chroma store to a Chroma server.
    chroma_url: str | None = None
    collection: str = "documents"

    # `minilm` is the bundled all-MiniLM-L6-v2; `fake` is a deterministic test embedding.
    embedding: str = "minilm"
    # How documents are embedded (questions always in full precision). `auto`: int8 on ONNX Runtime,
    # the fastest at the same `qa eval` figures (docs/how-it-works.md, Embedding), or fp32 on torch.
    embed_dtype: Literal["auto", "float32", "bfloat16", "int8"] = "auto"
    # `onnx` runs the model with ONNX Runtime (torch's vectors, without importing torch); `torch`
    # runs it with sentence-transformers. bfloat16 always uses torch.
    embed_runtime: Literal["onnx", "torch"] = "onnx"
    # Where the ONNX export of the model and its int8 copy are kept (made once, from the installed model).
    model_cache: Path = Path("~/.cache/qa-local")
    embed_batch_size: int = Field(default=64, ge=1)

    # Chunking: sentences are packed into chunks of at most this many words.
    chunk_words: int = Field(default=120, ge=1)
    # No overlap: better on every `qa eval` figure than one sentence of overlap, and fewer tokens
    # to embed (docs/bi-encoder-answerer.md).
    chunk_overlap_sentences: int = Field(default=0, ge=0)
    # Heavier parsers (PDF, DOCX, HTML) run in a worker bounded by these.
    parse_timeout_s: float = Field(default=60.0, gt=0)
    parse_memory_mb: int = Field(default=2048, ge=64)

    # `extractive` (offline, default) | `ollama:MODEL` | `openai:MODEL`
    answerer: str = "extractive"
    openai_base_url: str | None = None
    openai_api_key: str = "not-needed"
    ollama_base_url: str | None = None

    top_k: int = Field(default=5, ge=1, le=50)
    # Candidates taken from each retriever before fusion.
    fetch_k: int = Field(default=20, ge=1, le=200)
    rrf_k: int = Field(default=60, ge=0)
    # Reranking (qa/rerank.py): this many fused candidates are reordered by their best sentence's
    # score, then the first `top_k` kept; 0 turns it off. `rerank_weight` is the sentence order's
    # weight in the fusion against 1 for retrieval's (chosen by `qa eval`: docs/bi-encoder-answerer.md).
    rerank_candidates: int = Field(default=20, ge=0, le=200)
    rerank_weight: float = 2.0
    # The trained reader that picks the answer and decides to abstain (qa/reader.py): `shipped`
    # (models/reader/), a folder `qa train-reader` wrote, or `none` for the bi-encoder sentence score.
    reader: str = "shipped"
    # Below this reader confidence it abstains; unset, the reader's own calibrated threshold (its reader.json).
    reader_threshold: float | None = Field(default=None, ge=0, le=1)
    # Passages are read a core's worth at a time, stopping once one answers at least this surely
    # (never under what passes the threshold, so what it abstains on is unchanged); 1 reads them all. Chosen on
    # validation data (docs/performance.md).
    reader_stop: float = Field(default=0.97, ge=0, le=1)
    # Without a reader: below this sentence score it abstains (calibrated, see docs/).
    abstain_threshold: float = 0.65
    # Generative answerer: a cited sentence below this support score is flagged unsupported.
    support_threshold: float = 0.45
    max_answer_sentences: int = Field(default=2, ge=1)
    max_question_chars: int = Field(default=2000, ge=1)

    # `qa train-reader`: torch's threads (unset: one per core).
    train_threads: int | None = Field(default=None, ge=1)

    host: str = "127.0.0.1"
    port: int = Field(default=7860, ge=1, le=65535)
    auth: str | None = None  # "user:password"
    max_file_mb: int = Field(default=50, ge=1)
    concurrency: int = Field(default=2, ge=1)  # answers computed at once (one per core)
    queue_size: int = Field(default=16, ge=1)  # requests waiting beyond this are told to try again

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"


# Nothing in this project may reach a model hub or send telemetry: the libraries read these on import.
OFFLINE_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                       "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}


def offline_environment() -> None:
    """Set the offline, no-telemetry environment; called right before a hub- or telemetry-aware
    library (transformers, sentence-transformers, Chroma, Gradio) is imported."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


def debugging() -> bool:
    """QA_DEBUG=1: let an unexpected error's traceback through (read here, even when other QA_
    settings are malformed)."""
    return bool(os.environ.get("QA_DEBUG"))


# Settings a command-line flag can set, by the flag's name.
FLAGS = {"top_k": "--k", "port": "--port", "host": "--host"}


def load_settings(**overrides) -> Settings:
    """Settings from the environment, with explicit overrides (CLI flags) on top. A bad value is a
    UsageError naming the variable (or flag) and what it should be, in one line."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as e:
        raise UsageError(settings_error(e, set(given))) from None


def settings_error(e: ValidationError, flags: set[str]) -> str:
    """Pydantic's errors -> one line, each bad value named as the user set it (pure):
    `QA_TOP_K='abc': input should be a valid integer ...` or `--k 0: input should be ...`."""
    parts, from_env = [], False
    for err in e.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        msg = err["msg"][:1].lower() + err["msg"][1:]
        if field in flags and field in FLAGS:
            parts.append(f"{FLAGS[field]} {err.get('input')}: {msg}")
        else:
            parts.append(f"QA_{field.upper()}={err.get('input')!r}: {msg}")
            from_env = True
    return "; ".join(parts) + (" (set it right, or unset it for the default)" if from_env else "")
