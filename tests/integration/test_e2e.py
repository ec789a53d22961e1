"""End to end with the real MiniLM model and a real Chroma on disk: the CLI contract."""
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import LIU_Q, ROOT, SEED_000, cli_json, run_cli

pytestmark = pytest.mark.integration


def seed_text() -> str:
    with open(ROOT / SEED_000, encoding="utf-8", newline="") as f:
        return f.read()


def test_liu_question_is_answered_with_an_exact_citation(real_env, capsys):
    out = cli_json(capsys, "ask", LIU_Q, "--json")
    assert "Liu Jianchao" in out["answer"]
    assert out["abstained"] is False
    first = out["citations"][0]
    assert first["n"] == 1 and first["source"] == SEED_000
    assert first["quote"] == seed_text()[first["start"] : first["end"]]
    assert "date 2022" not in first["quote"]  # the date prefix is metadata, never quoted
    assert first["date"] == "2022-08-18"
    assert set(out["timings_ms"]) >= {"retrieve_ms", "answer_ms", "total_ms"}


def test_every_citation_quote_is_the_source_text_at_its_offsets(real_env, capsys):
    for q in ["What did Wang Yi say about the two-state solution?", "When did Wang Yi call Blinken?",
              "What does China think about Xinjiang genocide claims?"]:
        out = cli_json(capsys, "ask", q, "--json")
        for c in out["citations"] + out["nearest"]:
            with open(c["source"], encoding="utf-8", newline="") as f:
                assert f.read()[c["start"] : c["end"]] == c["quote"]


def test_unanswerable_question_abstains_without_citations(real_env, capsys):
    out = cli_json(capsys, "ask", "What is the capital of Australia?", "--json")
    assert out["abstained"] is True
    assert out["citations"] == []
    assert "could not find" in out["answer"].lower()
    assert out["nearest"], "the closest passages are still shown, as nearest, not as citations"


def test_a_question_asked_the_way_people_chat_is_answered_like_the_plain_one(real_env, capsys):
    # "can you tell me" and "is" weighed against the answering sentence: this abstained (score 0.58)
    out = cli_json(capsys, "ask", "Can you tell me who Blinken is?", "--json")
    plain = cli_json(capsys, "ask", "Who is Blinken?", "--json")
    assert out["abstained"] is False and out["query"] == "who Blinken is?"
    assert "Blinken" in out["answer"]
    for c in out["citations"]:
        with open(ROOT / c["source"], encoding="utf-8", newline="") as f:
            assert f.read()[c["start"] : c["end"]] == c["quote"]
    # the same answering sentence (the reader reads "who Blinken is?", so a second sentence may differ)
    assert out["citations"][0]["quote"] == plain["citations"][0]["quote"]


def test_a_name_the_documents_never_mention_is_said_not_passed_over(real_env, capsys):
    out = cli_json(capsys, "ask", "What did Wang Yi say about Ukraine?", "--json")
    assert out["unmatched"] == ["Ukraine"]  # the quotes about Wang Yi are the closest, and say so
    assert cli_json(capsys, "ask", "What did Wang Yi say about civilians?", "--json")["unmatched"] == []
    code, text, _ = run_cli(capsys, "ask", "When did Liu Jianchao visit Tokyo?")
    assert code == 0 and "Note: No indexed document mentions “Tokyo”" in text
    out = cli_json(capsys, "ask", "Wat did Wang Yi say about civilans?", "--json")  # typed in a hurry
    assert out["suggestions"] == {"civilans": "civilians"} and out["unmatched"] == []
    assert cli_json(capsys, "ask", "What did Wang Yi say about civilians?", "--json")["suggestions"] == {}


def test_followup_uses_history(real_env, capsys):
    # (after "Who is Irit Ben-Abba?", "What did she tell them?" carries her name too, but the reader
    # abstains on it: a known miss, kept in tests/data/conversations.jsonl)
    out = cli_json(capsys, "ask", "What did he say about civilians?", "--history", "Who is Wang Yi?", "--json")
    assert "Wang Yi" in out["query"]
    assert out["abstained"] is False and "civilians" in out["answer"]
    assert out["citations"][0]["source"] == "seeds/003_a8f53ad96f2022e1.txt"
    assert "Ben-Abba" in cli_json(capsys, "ask", "What did she tell them?", "--history", "Who is Irit Ben-Abba?", "--json")["query"]
    alone = cli_json(capsys, "ask", "What did she tell them?", "--json")
    assert alone["query"] == "What did she tell them?"


def test_who_is_a_short_name_is_answered_where_the_documents_introduce_it(real_env, capsys):
    out = cli_json(capsys, "ask", "Who is Liu?", "--json")  # later sentences call him "Liu" and score higher
    assert "Liu Jianchao, who heads the Chinese Communist Party's international affairs department" in out["citations"][0]["quote"]


def test_chat_keeps_the_conversation_until_cleared(real_env, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(
        "Who is Wang Yi?\nWhat did he say about civilians?\n\n/clear\nWhat did he say about civilians?\n"))
    code, out, err = run_cli(capsys, "chat", "--json")
    assert code == 0 and "new conversation" in err
    first, follow, fresh = (json.loads(line) for line in out.strip().splitlines())
    assert "foreign minister" in first["answer"] and first["citations"][0]["source"] == "seeds/003_a8f53ad96f2022e1.txt"
    assert "Wang Yi" in follow["query"] and "civilians" in follow["answer"]  # the follow-up carried the name
    assert fresh["query"] == "What did he say about civilians?"  # /clear forgot it


def test_chat_from_a_pipe_prints_each_question_above_its_answer(real_env, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("Who is Wang Yi?\nWhat did he say about civilians?\n"))
    code, out, err = run_cli(capsys, "chat")
    assert code == 0 and out.startswith("> Who is Wang Yi?\n") and "\n> What did he say about civilians?\n" in out
    assert out.index("foreign minister") < out.index("> What did he say")


def test_an_empty_index_says_how_to_add_documents(capsys):
    out = cli_json(capsys, "ask", "Who is Wang Yi?", "--json")
    assert out["abstained"] and out["citations"] == [] and "qa index PATH" in out["answer"]
    cli_json(capsys, "index", "seeds", "--json")
    assert "qa index PATH" not in cli_json(capsys, "ask", "Who is Wang Yi?", "--json")["answer"]


def test_indexing_twice_adds_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QA_EMBEDDING", "minilm")
    first = cli_json(capsys, "index", "seeds", "--json")
    assert first["added"] > 0 and first["failed"] == []
    second = cli_json(capsys, "index", "seeds", "--json")
    assert second["added"] == 0 and second["deleted"] == 0 and second["skipped"] == 2
    status = cli_json(capsys, "status", "--json")
    assert status["documents"] == 2 and status["chunks"] == first["added"]
    assert status["model"] == "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.parametrize("question,expect", [("", "type a question"), ("   ", "type a question"), ("x" * 10_000, "10,000 characters")])
def test_bad_questions_get_a_clear_answer(real_env, capsys, question, expect):
    code, out, err = run_cli(capsys, "ask", question, "--json")
    assert code == 0 and err == ""
    assert expect in json.loads(out)["answer"]


def test_a_reader_that_stops_early_gets_no_error(tmp_path):
    """`qa status | head -1`, with the reader gone before the first line: no error message."""
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path / "d")}
    read, write = os.pipe()
    os.close(read)
    try:
        r = subprocess.run([str(Path(sys.executable).with_name("qa")), "status"], stdout=write, stderr=subprocess.PIPE,
                           text=True, env=env, timeout=120)
    finally:
        os.close(write)
    assert (r.returncode, r.stderr) == (141, "")


def test_the_installed_qa_command_reports_a_missing_path_in_one_line(tmp_path):
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path / "d")}
    qa = Path(sys.executable).with_name("qa")
    r = subprocess.run([str(qa), "index", str(tmp_path / "nope")], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "no such file or folder" in r.stderr
    assert "Traceback" not in r.stderr


def test_the_installed_qa_command_answers_from_a_fresh_process(real_settings):
    env = {**os.environ, "QA_DATA_DIR": str(real_settings.data_dir), "QA_EMBEDDING": "minilm"}
    qa = Path(sys.executable).with_name("qa")
    r = subprocess.run([str(qa), "ask", LIU_Q, "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "Liu Jianchao" in out["answer"] and out["citations"][0]["source"] == SEED_000


@pytest.mark.parametrize("chunk_words", [120, 12])
def test_an_answer_in_a_sentence_that_leans_back_comes_with_its_antecedent(tmp_path, monkeypatch, capsys, chunk_words):
    """"It was founded ... by Ada Lumen" names neither the festival nor much of the question; the
    sentence before it does. Scored alone it lost to that sentence, and could miss the answer.
    With 12-word chunks the two sentences are in different chunks (the antecedent is the lead)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fest.md").write_text("The Zorblatt festival is held every March in Kettleby. It was founded in 1911 by "
                                  "Ada Lumen.\n\nTickets cost 12 pounds and sell out in a week.\n", encoding="utf-8")
    (docs / "library.txt").write_text("The Kettleby library opens at 9am on weekdays. It closes at 5pm.\n", encoding="utf-8")
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_EMBEDDING", "minilm")
    monkeypatch.setenv("QA_CHUNK_WORDS", str(chunk_words))
    assert cli_json(capsys, "index", str(docs), "--json")["failed"] == []
    out = cli_json(capsys, "ask", "Who founded the Zorblatt festival?", "--json")
    assert "Ada Lumen" in out["answer"] and not out["abstained"]
    quotes = [c["quote"] for c in out["citations"]]
    assert quotes == ["The Zorblatt festival is held every March in Kettleby.", "It was founded in 1911 by Ada Lumen."]
    text = (docs / "fest.md").read_text(encoding="utf-8")
    assert all(text[c["start"] : c["end"]] == c["quote"] for c in out["citations"])
    if chunk_words == 120:
        # it is there as the best sentence (it scored below its antecedent alone), not as a runner-up
        assert out["citations"][1]["score"] > out["citations"][0]["score"]
        assert out["citations"][0]["passage_id"] == out["citations"][1]["passage_id"]
    else:  # the retriever gives the chunk its lead: the sentence before it, from the chunk before
        from index.settings import load_settings
        from index.store import open_store
        from qa.chain import build_retriever
        from qa.retrieve import to_passage

        settings = load_settings()
        passages = [to_passage(d) for d in build_retriever(settings, open_store(settings)).invoke("Who founded it?")]
        it = next(p for p in passages if p.text.startswith("It was founded"))
        assert (it.lead_start, it.lead_text) == (0, quotes[0])
        assert next(p for p in passages if p.text.startswith("The Zorblatt")).lead_text is None  # a source's start


LIGHTHOUSE = ("The Kettleby lighthouse was built in 1871 by the engineer Marta Quill, who designed its lamp to turn "
              "once every nine seconds. It was automated in 1962, and its last keeper, Tobias Fenn, retired to the "
              "village that year. Visitors may climb its 112 steps on summer weekends.")


@pytest.mark.parametrize("kind", ["txt", "pdf"])
def test_a_sentence_wrapped_across_lines_is_answered_whole(tmp_path, monkeypatch, capsys, kind):
    """Text files and PDF text layers break lines inside sentences. A newline used to end a
    sentence, so the answer was "... the engineer Marta Quill, who designed its lamp to" [1]."""
    import textwrap

    from tests.integration.test_ingest import make_pdf

    docs = tmp_path / "docs"
    docs.mkdir()
    path = docs / f"lighthouse.{kind}"
    if kind == "txt":
        path.write_text("Kettleby Lighthouse\n" + textwrap.fill(LIGHTHOUSE, 60) + "\n", encoding="utf-8")
    else:
        make_pdf(path, [LIGHTHOUSE])
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_EMBEDDING", "minilm")
    assert cli_json(capsys, "index", str(docs), "--json")["failed"] == []
    out = cli_json(capsys, "ask", "Who designed the lamp of the Kettleby lighthouse?", "--json")
    first = out["citations"][0]
    assert " ".join(first["quote"].split()) == LIGHTHOUSE.split(" It was")[0]
    assert "\n" in first["quote"]  # the quote is the document's text, line break and all
    from index.settings import load_settings
    from index.store import open_store

    assert open_store(load_settings()).document_text(first["source"])[first["start"] : first["end"]] == first["quote"]
    if kind == "txt":
        assert path.read_text(encoding="utf-8")[first["start"] : first["end"]] == first["quote"]
    assert "\n" not in out["answer"] and "Marta Quill, who designed its lamp to turn once every nine seconds." in out["answer"]
    out = cli_json(capsys, "ask", "When was the lighthouse automated?", "--json")  # with the sentence it leans on
    assert [" ".join(c["quote"].split()) for c in out["citations"]] == LIGHTHOUSE.replace(". ", ".|").split("|")[:2]


README_MD = """Metadata-Version: 2.4
Name: kettle
Version: 1.2.0
Summary: Boil water from the command line.
License: MIT

# kettle

**Kettle** boils water for you, on time, from a [terminal](https://example.org/terminal).

## Installing Kettle

Kettle is available on PyPI:

```console
$ python -m pip install kettle
```

Kettle officially supports Python 3.10+.

## Speed

It boils a litre of water in ninety seconds.
"""


def test_a_heading_is_not_the_answer_and_header_fields_are_their_own_lines(tmp_path, monkeypatch, capsys):
    """Package READMEs: "## Installing Kettle" matched "How do I install kettle?" best and was the
    answer; the header's "License: MIT" ran on with the fields around it."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kettle.md").write_text(README_MD, encoding="utf-8")
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_EMBEDDING", "minilm")
    assert cli_json(capsys, "index", str(docs), "--json")["failed"] == []
    out = cli_json(capsys, "ask", "How do I install kettle?", "--json")
    assert not out["abstained"] and out["citations"][0]["quote"] == "$ python -m pip install kettle"
    assert not any(c["quote"].startswith(("#", "```")) for c in out["citations"])
    out = cli_json(capsys, "ask", "What is the license of kettle?", "--json")
    assert out["citations"][0]["quote"] == "License: MIT"
    out = cli_json(capsys, "ask", "What does kettle do?", "--json")  # Markdown's marks are read, and quoted
    assert out["answer"].startswith("Kettle boils water for you, on time, from a terminal. [1]")
    assert out["citations"][0]["quote"] == "**Kettle** boils water for you, on time, from a [terminal](https://example.org/terminal)."
    out = cli_json(capsys, "ask", "How fast does kettle boil a litre?", "--json")  # "It ..." leans on no heading
    assert out["citations"][0]["quote"] == "It boils a litre of water in ninety seconds."


def test_a_word_tables_row_answers_and_a_yes_or_no_question_gets_the_sentence_that_says_so(tmp_path, monkeypatch, capsys):
    """A .docx table was never indexed (only its paragraphs were); "Do prices include VAT?" must be
    answered by "Prices include VAT.", which holds nothing but the question's words."""
    from tests.integration.test_ingest import make_kettles_docx

    docs = tmp_path / "docs"
    docs.mkdir()
    make_kettles_docx(docs / "kettles.docx")
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_EMBEDDING", "minilm")
    assert cli_json(capsys, "index", str(docs), "--json")["failed"] == []
    out = cli_json(capsys, "ask", "How long does Kettle 2 take to boil?", "--json")
    assert out["citations"][0]["quote"] == "| Kettle 2 | 90 seconds | 35 pounds |"
    out = cli_json(capsys, "ask", "Do prices include VAT?", "--json")
    assert not out["abstained"] and out["citations"][0]["quote"] == "Prices include VAT."
