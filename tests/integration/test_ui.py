"""The UI answers through gradio_client against a launched app (real model, real index)."""
import time

import pytest
from conftest import LIU_Q, SEED_000, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(real_settings):
    import ui

    s = real_settings.model_copy(update={"port": free_port()})
    demo = ui.main(s, block=False)
    yield f"http://127.0.0.1:{s.port}/"
    demo.close()


def test_ask_api_answers_with_citation(served):
    from gradio_client import Client

    out = Client(served, verbose=False).predict(LIU_Q, [], api_name="/ask")
    assert "Liu Jianchao" in out["answer"]
    assert out["citations"][0]["source"] == SEED_000


def test_chat_event_streams_a_rendered_answer(served):
    from gradio_client import Client

    job = Client(served, verbose=False).submit(LIU_Q, [], 5, api_name="/chat")
    chat = job.result()[0]
    assert chat[-1]["role"] == "assistant"
    text = chat[-1]["content"][0]["text"] if isinstance(chat[-1]["content"], list) else chat[-1]["content"]
    # the answer's markers link to their passages; one line a source, the quotes not repeated
    assert "Liu Jianchao" in text and "[\\[1\\]](#cite-1) 000\\_85dd2a9e8a7d58fd.txt" in text
    assert text.count("most unequivocal and direct message") == 1


def test_chat_abstains_visibly(served):
    from gradio_client import Client

    chat = Client(served, verbose=False).predict("What is the capital of Australia?", [], 5, api_name="/chat")[0]
    text = chat[-1]["content"][0]["text"] if isinstance(chat[-1]["content"], list) else chat[-1]["content"]
    first, folded = text.split("\n\n", 1)
    assert first.startswith("I could not find this in the indexed documents.") and first.count(".") <= 2  # and the unmatched note
    assert folded.startswith("<details class='qa-closest'><summary>Closest passages (not citations): 000_85dd2a9e8a7d58fd.txt")


@pytest.mark.parametrize("host,auth,ok", [("127.0.0.1", None, True), ("0.0.0.0", None, False), ("0.0.0.0", "u:p", True), ("192.168.1.5", None, False)])
def test_binding_beyond_loopback_needs_a_password(host, auth, ok):
    from index.errors import UsageError
    from ui import check_bind

    if ok:
        check_bind(host, auth)
    else:
        with pytest.raises(UsageError, match="QA_AUTH"):
            check_bind(host, auth)


@pytest.mark.parametrize("name", ["../../x.txt", "/etc/passwd.txt", "a\x00b.txt", "C:\\Windows\\evil.md", "x" * 5000 + ".txt", "..", "", ".hidden.md", "ok name.pdf"])
def test_upload_names_end_up_safe_inside_the_data_directory(tmp_path, name):
    from index.errors import UsageError
    from index.uploads import safe_filename, save_upload

    safe = safe_filename(name)
    assert "/" not in safe and "\\" not in safe and "\x00" not in safe and ".." not in safe
    assert 0 < len(safe) <= 120 and not safe.startswith(".")
    src = tmp_path / "upload.tmp"
    src.write_text("hello")
    data = tmp_path / "data"
    try:
        dest = save_upload(src, name, data)
    except UsageError as e:
        assert "unsupported type" in str(e)  # no suffix we index: refused, nothing written
        assert not (data / "uploads").exists() or not any((data / "uploads").iterdir())
        return
    assert dest.parent == (data / "uploads").resolve() and dest.read_text() == "hello"


def test_gate_tells_the_overflow_it_is_busy():
    import threading

    from ui import Busy, Gate

    gate = Gate(active=1, waiting=1)
    inside, release = threading.Event(), threading.Event()

    def hold():
        with gate.enter():
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(10)
    waiter = threading.Thread(target=lambda: gate.enter().__enter__())
    waiter.start()
    time.sleep(0.2)
    with pytest.raises(Busy):
        with gate.enter():
            pass
    release.set()
    holder.join()
    waiter.join(10)
    assert not waiter.is_alive()


def test_load_script_small(served):
    import load

    out = load.run(served, sessions=6, questions=3)
    assert out["requests"] == 18 and out["errors"] == []
    assert out["answered"] + out["busy"] == 18 and out["answered"] >= 2
    assert out["still_up"] is True and out["p50_ms"] > 0


def test_settings_switch_the_answerer_to_an_openai_compatible_server(served):
    from gradio_client import Client
    from openai_server import CannedOpenAI

    reply = "Liu Jianchao heads the Chinese Communist Party's international affairs department [1]. He is also an astronaut [4]."
    with CannedOpenAI(reply) as server:
        client = Client(served, verbose=False)
        label, said, _ = client.predict("openai", "test-model", server.url, api_name="/use_answerer")
        assert said == "Answering with openai:test-model." and "openai:test-model" in label
        chat = client.predict(LIU_Q, [], 5, api_name="/chat")[0]
        assert server.requests and server.requests[-1]["body"]["model"] == "test-model"
    text = chat[-1]["content"][0]["text"] if isinstance(chat[-1]["content"], list) else chat[-1]["content"]
    assert "Liu Jianchao" in text and "(#cite-1)" in text
    assert "1 sentence is not supported by the documents: it is marked and not cited." in text
    assert "astronaut" in text and "\\[4\\]" not in text


def test_a_settings_choice_that_cannot_work_is_refused_and_answering_goes_on(served):
    from gradio_client import Client
    from openai_server import CannedOpenAI

    client = Client(served, verbose=False)
    nowhere = f"http://127.0.0.1:{free_port()}/v1"
    label, said, _ = client.predict("openai", "", nowhere, api_name="/use_answerer")
    assert said.startswith(f"Not switched: no openai server answers at {nowhere}") and said.endswith("Still answering with extractive.")
    assert "`extractive`" in label
    with CannedOpenAI("unused", models=("qwen", "llama")) as server:
        label, said, models = client.predict("openai", "", server.url, api_name="/use_answerer")
        assert said.startswith("Not switched: choose a model first. It offers: qwen, llama.") and "`extractive`" in label
        _, said, _ = client.predict("openai", "mistral", server.url, api_name="/use_answerer")
        assert "has no model 'mistral'" in said
    chat = client.predict(LIU_Q, [], 5, api_name="/chat")[0]  # still the working answerer
    text = chat[-1]["content"][0]["text"] if isinstance(chat[-1]["content"], list) else chat[-1]["content"]
    assert "Liu Jianchao" in text


def test_source_lines_tell_citations_of_one_file_apart_and_names_drop_internal_paths():
    from qa.render import source_lines
    from qa.schema import Citation
    from ui import chunks_word, document_names

    cites = [Citation(1, "/d/a.txt", 0, 62, "The castle was built in 1066 by William the Conqueror himself.", 0.9),
             Citation(2, "/d/a.txt", 63, 78, "It burned down.", 0.8),
             Citation(3, "/d/p.pdf", 0, 1, "x", 0.7, page=4, section="3.2 Dynamic masking")]
    assert source_lines(cites) == ["a.txt · “The castle was built in 1066…”", "a.txt · “It burned down.”", "p.pdf · p. 4 · §3.2 Dynamic masking"]
    assert document_names(["/data/uploads/kettle.md", "seeds/a.txt", "docs/a.txt"]) == {
        "/data/uploads/kettle.md": "kettle.md", "seeds/a.txt": "a.txt (seeds)", "docs/a.txt": "a.txt (docs)"}
    assert chunks_word(1) == "1 chunk" and chunks_word(3) == "3 chunks"


def test_export_has_the_conversation_with_citations(served, tmp_path):
    from gradio_client import Client

    client = Client(served, verbose=False)
    chat, answers, *_ = client.predict(LIU_Q, [], 5, api_name="/chat")
    path = client.predict(answers, api_name="/export")
    md = open(path if isinstance(path, str) else path["value"], encoding="utf-8").read()
    assert "**Q:** " + LIU_Q in md and "000_85dd2a9e8a7d58fd.txt" in md and "Liu Jianchao" in md


def test_library_remove_takes_the_chunks_too(tmp_path):
    import ui
    from index.indexer import index_paths
    from index.settings import Settings

    (tmp_path / "a.txt").write_text("Rollo was the first ruler of Normandy.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("William won at Hastings in 1066.", encoding="utf-8")
    s = Settings(data_dir=tmp_path / "data", embedding="fake", port=free_port())
    index_paths([tmp_path], s, progress=False)
    demo = ui.main(s, block=False)
    try:
        from gradio_client import Client

        client = Client(f"http://127.0.0.1:{s.port}/", verbose=False)
        from index.manifest import Manifest

        source = next(r["source"] for r in Manifest(s.data_dir / "manifest.sqlite").files() if r["source"].endswith("a.txt"))
        rows, _ = client.predict(source, "true", api_name="/remove")
        names = [r[0] for r in rows["data"]] if isinstance(rows, dict) else [r[0] for r in rows]
        assert names == ["b.txt"]  # by file name, as a person calls it
    finally:
        demo.close()
    from index.store import open_store

    store = open_store(s)
    assert all(not m["source"].endswith("a.txt") for m in store.collection.get(include=["metadatas"])["metadatas"])
