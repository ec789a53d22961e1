"""Crash safety and sharing: kill -9 at random moments, rerun, and the index is identical to a
clean build; a second writer is refused; the index keeps answering while another process writes;
`qa index --watch` follows a folder. Child processes run the real `qa` command on a real Chroma."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.manifest import Manifest

QA = str(Path(sys.executable).with_name("qa"))


def make_corpus(folder: Path, n_files: int = 300) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    words = "river castle duke abbey harvest council treaty market bridge forest tower merchant".split()
    for i in range(n_files):
        paras = [" ".join(rng.choice(words) for _ in range(rng.randint(10, 30))).capitalize() + f" number {i}-{j}." for j in range(40)]
        (folder / f"doc{i:03d}.txt").write_text("\n\n".join(paras), encoding="utf-8")


def env_for(data_dir: Path) -> dict:
    return {**os.environ, "QA_DATA_DIR": str(data_dir), "QA_EMBEDDING": "fake"}


def snapshot(data_dir: Path) -> tuple[list[str], list[str], int]:
    """Chunk ids recorded in the manifest, ids in Chroma, and the file count."""
    from index.settings import Settings
    from index.store import open_store

    store = open_store(Settings(data_dir=data_dir, embedding="fake"))
    chroma_ids = sorted(store.collection.get(include=[])["ids"])
    manifest_ids = sorted(r[0] for r in store.manifest.all_chunks())
    return manifest_ids, chroma_ids, store.manifest.counts()[0]


@pytest.mark.integration
def test_kill_9_at_random_moments_then_rerun_equals_a_clean_build(tmp_path):
    corpus = tmp_path / "corpus"
    make_corpus(corpus)
    clean = tmp_path / "clean"
    t0 = time.perf_counter()
    subprocess.run([QA, "index", str(corpus)], env=env_for(clean), check=True, capture_output=True, timeout=600)
    clean_seconds = time.perf_counter() - t0
    expected = snapshot(clean)
    assert expected[0] == expected[1] and expected[2] == 300

    crashed = tmp_path / "crashed"
    rng = random.Random(42)
    kills = 0
    for _ in range(4):
        p = subprocess.Popen([QA, "index", str(corpus)], env=env_for(crashed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Runs resume each other's work: a kill late in one run can leave the next too little to be
        # caught in, so each run is killed within its first half (of a clean build's time).
        time.sleep(rng.uniform(0.1, 0.45) * clean_seconds)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
    assert kills >= 2, "the runs finished before they could be killed; make the corpus bigger"
    r = subprocess.run([QA, "index", str(corpus), "--json"], env=env_for(crashed), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    manifest_ids, chroma_ids, files = snapshot(crashed)
    assert files == 300
    assert manifest_ids == expected[0], "manifest differs from a clean build"
    assert chroma_ids == expected[1], "Chroma differs from a clean build (duplicates or missing chunks)"
    again = json.loads(subprocess.run([QA, "index", str(corpus), "--json"], env=env_for(crashed), capture_output=True, text=True, timeout=600).stdout)
    assert again["added"] == 0 and again["skipped"] == 300


@pytest.mark.integration
def test_a_second_writer_is_refused_and_queries_keep_working(tmp_path):
    corpus = tmp_path / "corpus"
    make_corpus(corpus, 300)
    data = tmp_path / "data"
    (corpus / "seed.txt").write_text("The abbey of Jumièges was founded in 654 by Saint Philibert.", encoding="utf-8")
    subprocess.run([QA, "index", str(corpus / "seed.txt")], env=env_for(data), check=True, capture_output=True, timeout=300)

    from index.settings import Settings
    from index.store import open_store
    from qa.chain import ask, build_chain

    s = Settings(data_dir=data, embedding="fake", abstain_threshold=0.0)
    chain = build_chain(s, store=open_store(s))
    writer = subprocess.Popen([QA, "index", str(corpus)], env=env_for(data), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not (data / "index.pid").exists() and time.time() < deadline:
            time.sleep(0.05)
        second = subprocess.run([QA, "index", str(corpus)], env=env_for(data), capture_output=True, text=True, timeout=120)
        assert second.returncode == 3
        assert f"index is being updated by process {writer.pid}" in second.stderr
        assert second.stderr.count("\n") == 1
        answered = 0
        while writer.poll() is None and answered < 20:
            a = ask(chain, "When was the abbey of Jumièges founded?")
            assert a.passages, "the app's queries keep working while another process indexes"
            answered += 1
        assert answered >= 1
    finally:
        writer.wait(timeout=600)
    assert writer.returncode == 0


@pytest.mark.integration
def test_watch_keeps_the_index_in_sync(tmp_path):
    folder = tmp_path / "watched"
    folder.mkdir()
    (folder / "a.txt").write_text("Rollo was the first ruler of Normandy.", encoding="utf-8")
    data = tmp_path / "data"
    p = subprocess.Popen([QA, "index", str(folder), "--watch", "--json"], env=env_for(data), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def wait_for(pred, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if (data / "manifest.sqlite").exists():
                files = {Path(r["source"]).name for r in Manifest(data / "manifest.sqlite").files()}
                if pred(files):
                    return files
            time.sleep(0.2)
        raise AssertionError("the watcher did not catch up")

    try:
        wait_for(lambda f: f == {"a.txt"})
        time.sleep(1.0)
        (folder / "b.md").write_text("William the Conqueror won at Hastings in 1066.", encoding="utf-8")
        wait_for(lambda f: f == {"a.txt", "b.md"})
        (folder / "a.txt").unlink()
        wait_for(lambda f: f == {"b.md"})
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=30)
