"""Shared fixtures. Every test gets its own data directory under tmp_path and, unless it asks
for the real model, the deterministic fake embedding. The real seeds index (MiniLM, Chroma on
disk) is built once per session for the end-to-end tests."""
from __future__ import annotations

import json
import os
import socket
import zlib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
os.chdir(ROOT)  # sources are named relative to the working directory: `seeds/000_...txt`
os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", ANONYMIZED_TELEMETRY="False")
for key in [k for k in os.environ if k.startswith("QA_")]:
    del os.environ[key]

LIU_Q = "Who heads the Chinese Communist Party's international affairs department?"
SEED_000 = "seeds/000_85dd2a9e8a7d58fd.txt"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "qa-data"))
    monkeypatch.setenv("QA_EMBEDDING", "fake")
    monkeypatch.setenv("QA_READER", "none")  # fake vectors, the bi-encoder answerer; the real model tests use the reader


@pytest.fixture
def settings(tmp_path):
    from index.settings import Settings

    return Settings(data_dir=tmp_path / "qa-data", embedding="fake", reader="none")


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory):
    """Settings for the real model with the seeds indexed once (MiniLM + Chroma on disk)."""
    from index.indexer import index_paths
    from index.settings import Settings

    s = Settings(data_dir=tmp_path_factory.mktemp("seeds-index"), embedding="minilm", reader="shipped")
    report = index_paths([ROOT / "seeds"], s, progress=False)
    assert report.added > 0 and not report.failed
    return s


@pytest.fixture
def real_env(real_settings, monkeypatch):
    monkeypatch.setenv("QA_DATA_DIR", str(real_settings.data_dir))
    monkeypatch.setenv("QA_EMBEDDING", "minilm")
    monkeypatch.setenv("QA_READER", "shipped")
    return real_settings


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    from qa.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def cli_json(capsys, *argv) -> dict:
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1])


def int8_weights_range(onnx_file: Path) -> tuple[int, int]:
    """The smallest and largest of an int8 export's quantised weights: 7 bits ([-64, 64]) keep every
    CPU's int8 products exact (index/encoders.py, quantize_onnx)."""
    import onnx
    from onnx import numpy_helper

    q = [numpy_helper.to_array(i) for i in onnx.load(str(onnx_file)).graph.initializer
         if i.name.endswith("_quantized") and i.data_type == onnx.TensorProto.INT8]
    assert len(q) >= 30  # every matrix of the six layers
    return min(int(a.min()) for a in q), max(int(a.max()) for a in q)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bag_encode(texts: list[str]):
    """A deterministic bag-of-words encoder for unit tests: similar wording -> similar vectors."""
    rows = []
    for t in texts:
        v = np.zeros(512, dtype=np.float32)
        for w in t.lower().split():
            v[zlib.crc32(w.strip(".,?[]").encode()) % 512] += 1  # not hash(): Python salts it per process
        rows.append(v / (np.linalg.norm(v) or 1))
    return np.array(rows)
