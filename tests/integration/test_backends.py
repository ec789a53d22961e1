"""Contract tests: the same indexing and retrieval tests against the embedded Chroma store and a
real `chroma run` server on 127.0.0.1 (QA_CHROMA_URL), with the real MiniLM model."""
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import LIU_Q, ROOT, SEED_000, free_port

from index.indexer import index_paths
from index.settings import Settings
from index.store import open_store
from qa.chain import ask, build_chain

pytestmark = [pytest.mark.integration, pytest.mark.server]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    chroma = Path(sys.executable).with_name("chroma")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma run did not start")
    yield url
    os.kill(proc.pid, 15)
    proc.wait(timeout=30)


@pytest.fixture(params=["embedded", "server"])
def backend(request, tmp_path):
    url = request.getfixturevalue("chroma_server") if request.param == "server" else None
    return Settings(data_dir=tmp_path / "data", embedding="minilm", chroma_url=url, collection=f"c{uuid.uuid4().hex[:8]}")


def test_index_and_answer_contract(backend, tmp_path):
    store = open_store(backend)
    assert store.max_batch_size == 5461
    first = index_paths([ROOT / "seeds"], backend, store=store, progress=False)
    assert first.added > 0 and store.collection.count() == first.added
    again = index_paths([ROOT / "seeds"], backend, store=store, progress=False)
    assert again.added == 0 and store.collection.count() == first.added
    answer = ask(build_chain(backend, store=store), LIU_Q)
    assert "Liu Jianchao" in answer.text and answer.citations[0].source == SEED_000
    assert (ROOT / SEED_000).read_text(encoding="utf-8")[answer.citations[0].start : answer.citations[0].end] == answer.citations[0].quote
    assert ask(build_chain(backend, store=store), "What is the capital of Australia?").abstained


def test_removed_file_leaves_the_store(backend, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(ROOT / SEED_000, docs / "a.txt")
    (docs / "b.txt").write_text("William the Conqueror won at Hastings in 1066.", encoding="utf-8")
    store = open_store(backend)
    index_paths([docs], backend, store=store, progress=False)
    (docs / "a.txt").unlink()
    report = index_paths([docs], backend, store=store, progress=False)
    assert report.files_removed == 1
    sources = {m["source"] for m in store.collection.get(include=["metadatas"])["metadatas"]}
    assert len(sources) == 1 and next(iter(sources)).endswith("b.txt")


def test_unreachable_server_is_one_clear_error(tmp_path, capsys, monkeypatch):
    from qa.cli import main

    monkeypatch.setenv("QA_CHROMA_URL", f"http://127.0.0.1:{free_port()}")
    code = main(["index", str(ROOT / "seeds")])
    err = capsys.readouterr().err
    assert code != 0 and "Chroma server" in err and err.count("\n") == 1
