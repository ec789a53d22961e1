"""Ingestion people can trust: formats with exact offsets, incremental and idempotent updates,
bad input skipped with a reason while everything else is indexed. Real Chroma on disk; the fake
embedding keeps these fast (the real model is exercised in test_e2e and test_server)."""
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import cli_json

from index.errors import IndexLockedError, ModelMismatchError
from index.indexer import index_paths, remove_document
from index.load import decode_text
from index.store import open_store

PARA = ("The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, "
        "a region in France. They were descended from Norse raiders and pirates from Denmark, Iceland and Norway.")


def make_pdf(path: Path, pages: list[str]) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    pdf.output(str(path))


def make_docx(path: Path, paragraphs: list[str]) -> None:
    import docx

    d = docx.Document()
    for p in paragraphs:
        d.add_paragraph(p)
    d.save(str(path))


def make_kettles_docx(path: Path) -> None:
    """A Word document with a title, a heading, a table (one merged cell) and paragraphs."""
    import docx

    d = docx.Document()
    d.add_heading("Kettle models", 0)
    d.add_paragraph("The Kettleby works makes two kettles.")
    d.add_heading("Boiling times", 1)
    table = d.add_table(rows=3, cols=3)
    for r, row in enumerate([["Model", "Boil time", "Price"], ["Kettle 1", "120 seconds", "20 pounds"], ["Kettle 2", "90 seconds", "35 pounds"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(0, 1).merge(table.cell(0, 2)).text = "Boil time and price"
    d.add_paragraph("Prices include VAT.")
    d.save(str(path))


def test_a_docx_keeps_its_tables_and_headings_in_order(tmp_path):
    """python-docx's `paragraphs` leave tables out: a table's rows were never indexed."""
    from index.load import extract

    make_kettles_docx(tmp_path / "k.docx")
    text, pages, _ = extract(tmp_path / "k.docx")
    assert pages == [] and text == ("# Kettle models\n\nThe Kettleby works makes two kettles.\n\n# Boiling times\n\n"
                                    "| Model | Boil time and price |\n| --- | --- |\n| Kettle 1 | 120 seconds | 20 pounds |\n"
                                    "| Kettle 2 | 90 seconds | 35 pounds |\n\nPrices include VAT.")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"])
def test_text_in_any_common_encoding_decodes(encoding):
    text = "Café in Zürich: “quotes” — façade, naïve résumé." if encoding in ("utf-8", "utf-8-sig", "utf-16", "cp1252") else "Café in Zürich: façade, naïve résumé."
    assert decode_text(text.encode(encoding)) == text


def test_every_format_quotes_exactly_and_pdf_pages_are_right(tmp_path, settings):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Title\n\n" + PARA, encoding="utf-8")
    (docs / "b.html").write_text(
        "<html><head><script>var secret='SCRIPTTEXT';</script></head><body><nav>Home | NAVTEXT</nav>"
        f"<article><h1>Normans</h1><p>{PARA}</p><p>{PARA.replace('Normans', 'Vikings')}</p></article></body></html>", encoding="utf-8")
    make_pdf(docs / "c.pdf", ["Page one talks about cheese making in Normandy.", "Page two says the castle was built in 1066 by William.", "Page three is about apples."])
    make_docx(docs / "d.docx", ["Docx first paragraph about Rollo.", PARA])
    (docs / "e.txt").write_bytes(("Ünïcode in cp1252: " + PARA).encode("cp1252"))
    store = open_store(settings)
    report = index_paths([docs], settings, store=store, progress=False)
    assert report.failed == [] and report.files_indexed == 5
    rows = store.manifest.all_chunks()
    chunks = store.manifest.chunks([r[0] for r in rows])
    for c in chunks.values():
        assert store.document_text(c.source)[c.start : c.end] == c.text
    html_text = store.document_text(str(docs / "b.html").removeprefix(os.getcwd() + "/"))
    assert "SCRIPTTEXT" not in html_text and "Normans" in html_text
    pdf_chunks = [c for c in chunks.values() if c.source.endswith("c.pdf")]
    by_page = {c.page: c.text for c in pdf_chunks}
    assert "1066" in by_page[2] and "cheese" in by_page[1] and "apples" in by_page[3]
    assert any("Ünïcode" in c.text for c in chunks.values())


def test_pdf_page_shows_in_citations(tmp_path, settings):
    from qa.chain import ask, build_chain

    make_pdf(tmp_path / "castle.pdf", ["Nothing here but an introduction.", "The castle was built in 1066 by William the Conqueror."])
    store = open_store(settings)
    index_paths([tmp_path / "castle.pdf"], settings, store=store, progress=False)
    answer = ask(build_chain(settings.model_copy(update={"abstain_threshold": 0.0}), store=store), "When was the castle built by William?")
    cite = answer.citations[0]
    assert cite.page == 2 and "1066" in cite.quote


def long_doc(n: int, marker: str = "") -> str:
    return "\n\n".join(f"Paragraph {i} tells the story of town {i} and its river {i * 7}. The mayor of town {i} was elected in year {1800 + i}.{marker if i == n // 2 else ''}" for i in range(n))


def test_reindex_is_incremental(tmp_path, settings):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "long.txt").write_text(long_doc(200), encoding="utf-8")
    (docs / "other.txt").write_text(PARA, encoding="utf-8")
    store = open_store(settings)
    first = index_paths([docs], settings, store=store, progress=False)
    total = first.added
    again = index_paths([docs], settings, store=store, progress=False)
    assert (again.added, again.deleted, again.skipped) == (0, 0, 2)
    # Edit one paragraph in the middle: only the chunks around it are re-embedded.
    text = (docs / "long.txt").read_text().replace("Paragraph 100 tells", "Paragraph one hundred, rewritten and longer, tells")
    (docs / "long.txt").write_text(text, encoding="utf-8")
    edit = index_paths([docs], settings, store=store, progress=False)
    assert 1 <= edit.added <= 3, edit.to_dict()
    assert edit.added < total / 10
    assert store.collection.count() == store.manifest.counts()[1]
    # Offsets moved for later chunks, without re-embedding, and still quote exactly.
    for c in store.manifest.chunks([r[0] for r in store.manifest.all_chunks()]).values():
        assert store.document_text(c.source)[c.start : c.end] == c.text
    meta = store.collection.get(include=["metadatas", "documents"])
    for md, doc in zip(meta["metadatas"], meta["documents"]):
        assert store.document_text(md["source"])[md["start"] : md["end"]] == doc
    # A removed file has its chunks removed.
    (docs / "other.txt").unlink()
    gone = index_paths([docs], settings, store=store, progress=False)
    assert gone.files_removed == 1 and gone.deleted >= 1
    assert all(not s.endswith("other.txt") for s in (r["source"] for r in store.manifest.files()))
    assert store.collection.get(where={"source": {"$contains": "other"}} if False else {"source": str(docs / 'other.txt')})["ids"] == []


def test_reference_lists_and_residue_are_searched_by_their_words_alone(tmp_path, settings):
    """References and table residue are in the manifest and BM25, not in Chroma, and are counted,
    replaced and removed like any other chunk."""
    table = "\n".join(f"{i} {i * 3.5} {i * 11} x{i} {i % 7}" for i in range(60))
    refs = "\n".join(f"[{i}] A. Author{i}, Title of paper {i}, Journal {i}, {1990 + i}." for i in range(1, 30))
    path = tmp_path / "paper.md"
    path.write_text(f"# Paper\n\n{long_doc(30)}\n\n{table}\n\n# References\n\n{refs}\n", encoding="utf-8")
    store = open_store(settings)
    first = index_paths([path], settings, store=store, progress=False)
    chunks = store.manifest.chunks([i for i, _ in store.manifest.all_chunks()])
    kinds = [c.kind for c in chunks.values()]
    assert "references" in kinds and "residue" in kinds, kinds
    assert first.added == len(chunks) == store.manifest.counts()[1]
    assert store.collection.count() == kinds.count(None)
    ref = next(c for c in chunks.values() if c.kind == "references" and "Author17" in c.text)
    assert ref.id in [i for i, _ in store.keyword("Author17 Journal", 3)]
    path.write_text(f"# Paper\n\n{long_doc(30)}\n", encoding="utf-8")  # the table and references cut
    edit = index_paths([path], settings, store=store, progress=False)
    left = store.manifest.chunks([i for i, _ in store.manifest.all_chunks()])
    assert {c.kind for c in left.values()} == {None}
    assert edit.deleted - edit.added == len(chunks) - len(left) and edit.added <= 1, edit.to_dict()
    assert store.collection.count() == len(left)


def test_remove_document(tmp_path, settings):
    (tmp_path / "a.txt").write_text(PARA)
    store = open_store(settings)
    index_paths([tmp_path / "a.txt"], settings, store=store, progress=False)
    source = store.manifest.files()[0]["source"]
    assert remove_document(source, settings, store=store) >= 1
    assert store.collection.count() == 0 and store.manifest.counts() == (0, 0)


def test_batches_never_exceed_the_clients_max(tmp_path, settings, monkeypatch):
    from index.store import Store

    (tmp_path / "big.txt").write_text(long_doc(300))
    monkeypatch.setattr(Store, "max_batch_size", property(lambda self: 7))
    store = open_store(settings)
    sizes = []
    import index.indexer

    original = index.indexer.embed_chunks
    monkeypatch.setattr(index.indexer, "embed_chunks", lambda e, records: (sizes.append(len(records)), original(e, records))[1])
    index_paths([tmp_path / "big.txt"], settings, store=store, progress=False)
    assert sizes and max(sizes) <= 7 and sum(sizes) == store.collection.count()


def test_model_change_is_detected(tmp_path, settings):
    (tmp_path / "a.txt").write_text(PARA)
    index_paths([tmp_path / "a.txt"], settings, progress=False)
    other = settings.model_copy(update={"embedding": "minilm"})
    with pytest.raises(ModelMismatchError, match="QA_DATA_DIR"):
        index_paths([tmp_path / "a.txt"], other, progress=False)


def test_one_writer_at_a_time(tmp_path, settings):
    (tmp_path / "a.txt").write_text(PARA)
    store = open_store(settings)
    with store.writer():
        with pytest.raises(IndexLockedError, match=f"process {os.getpid()}"):
            index_paths([tmp_path / "a.txt"], settings, store=open_store(settings), progress=False)


def test_bad_files_are_skipped_with_a_reason_and_the_rest_indexed(tmp_path, settings, capsys):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "good.txt").write_text(PARA)
    (d / "good2.md").write_text("Rollo was the first ruler of Normandy.")
    (d / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (d / "empty.txt").write_bytes(b"")
    (d / "blank.txt").write_text("   \n\n\t  \n")
    (d / "oneline.txt").write_bytes(b"x" * (50 * 1000 * 1000))
    (d / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer <<>>\n%%EOF")
    make_pdf(d / "truncated_src.pdf", ["Some text that will be cut off."])
    (d / "truncated.pdf").write_bytes((d / "truncated_src.pdf").read_bytes()[:300])
    (d / "truncated_src.pdf").unlink()
    # An encrypted PDF (password required) made with pypdf.
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(200, 200)
    w.encrypt(user_password="secret", owner_password="owner")
    with open(d / "encrypted.pdf", "wb") as f:
        w.write(f)
    # A PDF with no text layer.
    w = PdfWriter()
    w.add_blank_page(200, 200)
    with open(d / "scanned.pdf", "wb") as f:
        w.write(f)
    # A .docx zip bomb: declares gigabytes uncompressed.
    with zipfile.ZipFile(d / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"\0" * (300 * 1024 * 1024))
    # Unreadable, a symlink loop.
    (d / "secret.txt").write_text("private")
    (d / "secret.txt").chmod(0)
    os.symlink(d / "loop_b.txt", d / "loop_a.txt")
    os.symlink(d / "loop_a.txt", d / "loop_b.txt")
    out = cli_json(capsys, "index", str(d), "--json")
    reasons = {Path(f["path"]).name: f["error"] for f in out["failed"]}
    assert out["files_indexed"] == 2 + (os.geteuid() == 0), out
    expected = {
        "binary.txt": "binary", "empty.txt": "empty", "blank.txt": "no text", "oneline.txt": "single line",
        "corrupt.pdf": "corrupt", "truncated.pdf": "corrupt", "encrypted.pdf": "encrypted", "scanned.pdf": "scanned PDF",
        "bomb.docx": "zip bomb", "loop_a.txt": "symlink loop", "loop_b.txt": "symlink loop",
    }
    if os.geteuid() != 0:  # root reads any file, whatever its mode
        expected["secret.txt"] = "permission denied"
    for name, words in expected.items():
        assert words in reasons.get(name, ""), (name, reasons.get(name))
    assert all("\n" not in r for r in reasons.values())
    status = cli_json(capsys, "status", "--json")
    assert status["documents"] == 2 + (os.geteuid() == 0)


def test_files_of_other_types_in_a_folder_are_counted_not_silently_passed_over(tmp_path, settings, capsys):
    from conftest import run_cli

    d = tmp_path / "docs"
    (d / "sub").mkdir(parents=True)
    (d / "good.txt").write_text(PARA)
    (d / "memo.rtf").write_text("{\\rtf1 Rollo}")
    (d / "sub" / "a.PNG").write_bytes(b"\x89PNG")
    (d / "sub" / "b.png").write_bytes(b"\x89PNG")
    (d / "LICENSE").write_text("MIT")
    (d / ".hidden.rtf").write_text("not counted")
    out = cli_json(capsys, "index", str(d), "--json")
    assert out["files_indexed"] == 1 and out["failed"] == []
    assert out["other_types"] == {".png": 2, ".rtf": 1, "(no suffix)": 1}
    code, text, _ = run_cli(capsys, "index", str(d))  # unchanged: the same count, without indexing
    assert code == 0
    assert "not read: 4 file(s) of other types (2 .png, 1 (no suffix), 1 .rtf); it reads .txt .md" in text


def test_a_file_that_vanishes_mid_run_is_reported(tmp_path, settings, monkeypatch):
    import index.indexer as ix

    (tmp_path / "a.txt").write_text(PARA)
    (tmp_path / "b.txt").write_text("Rollo was the first ruler of Normandy.")
    real = ix.Indexer._index_file

    def vanish(self, path, source):
        if path.name == "a.txt":
            path.unlink()
        return real(self, path, source)

    monkeypatch.setattr(ix.Indexer, "_index_file", vanish)
    report = index_paths([tmp_path], settings, progress=False)
    assert [f["error"] for f in report.failed] == ["file vanished while indexing"]
    assert report.files_indexed == 1


def test_a_parser_that_hangs_is_stopped(tmp_path, settings):
    from index.sandbox import BoundedRunner, ParseLimitError

    runner = BoundedRunner(timeout_s=1.0)
    with pytest.raises(ParseLimitError, match="longer than 1s"):
        runner.run(time.sleep, 30)
    assert runner.run(len, "still works") == 11  # a fresh worker replaces the killed one
    runner.close()


def test_status_of_an_empty_index(capsys):
    out = cli_json(capsys, "status", "--json")
    assert out["documents"] == 0 and out["chunks"] == 0


def test_sentence_vectors_are_stored_with_their_chunks_and_kept_across_edits(tmp_path, settings):
    from index.split import split_sentences

    doc = tmp_path / "a.txt"
    doc.write_text(long_doc(40))
    index_paths([doc], settings, progress=False)
    store = open_store(settings)
    chunks = store.manifest.chunks(sorted(store.manifest.chunk_id_set()))
    stored = store.sentence_vectors(list(chunks))
    assert set(stored) == set(chunks)
    for cid, rows in stored.items():
        texts = [chunks[cid].text[s.start : s.end] for s in split_sentences(chunks[cid].text)]
        assert rows.shape == (len(texts), 384)
        assert np.allclose(rows, store.embeddings.encode(texts), atol=2e-3)  # float16 rows of the sentences' vectors
    # An edit at the end: chunks that did not change keep their stored vectors without re-embedding.
    doc.write_text(long_doc(40) + "\n\nA new closing paragraph about something else entirely.")
    report = index_paths([doc], settings, progress=False)
    after = store.manifest.chunk_id_set()
    assert 0 < report.added < len(after)
    assert set(store.sentence_vectors(sorted(after))) == after


def test_the_answerer_embeds_only_what_the_index_lacks(tmp_path, settings):
    from qa.answer import ExtractiveAnswerer
    from qa.question import understand
    from qa.retrieve import HybridRetriever, to_passage
    from qa.score import SentenceScorer

    (tmp_path / "a.txt").write_text(PARA)
    index_paths([tmp_path / "a.txt"], settings, progress=False)
    store = open_store(settings)
    passages = [to_passage(d) for d in HybridRetriever(store=store, k=3).invoke("Who gave their name to Normandy?")]
    calls = []

    def encode(texts):
        calls.append(list(texts))
        return store.embeddings.encode(texts)

    question = "Who gave their name to Normandy?"
    with_store = ExtractiveAnswerer(SentenceScorer(encode, stored=store.sentence_vectors)).answer(understand(question), passages)
    assert calls == [[question]]  # the question only: every sentence came from the index
    calls.clear()
    without = ExtractiveAnswerer(SentenceScorer(encode)).answer(understand(question), passages)
    assert len(calls) == 2 and len(calls[1]) > 1  # the question, then the sentences
    assert with_store.text == without.text and with_store.citations == without.citations


def test_token_vectors_are_stored_with_their_chunks_and_read_by_the_answerer(tmp_path):
    """With the real model: each chunk's sentences' token vectors are stored (int8, in context),
    kept across an edit, and the answer's token match reads them instead of running the sentences."""
    from index.settings import Settings
    from index.split import split_sentences
    from qa.answer import ExtractiveAnswerer
    from qa.question import understand
    from qa.retrieve import HybridRetriever, to_passage
    from qa.score import SentenceScorer

    settings = Settings(data_dir=tmp_path / "qa-data", embedding="minilm")
    doc = tmp_path / "a.txt"
    doc.write_text(PARA + "\n\n" + long_doc(30))
    index_paths([doc], settings, progress=False)
    store = open_store(settings)
    ids = sorted(store.manifest.chunk_id_set())
    tokens = store.sentence_tokens(ids)
    assert set(tokens) == set(ids)
    for cid, rec in store.manifest.chunks(ids).items():
        assert len(tokens[cid]) == len(split_sentences(rec.text)) and all(len(t) > 3 for t in tokens[cid])
    doc.write_text(PARA + "\n\n" + long_doc(30) + "\n\nA new closing paragraph about something else entirely.")
    report = index_paths([doc], settings, progress=False)
    after = store.manifest.chunk_id_set()
    assert 0 < report.added < len(after) and set(store.sentence_tokens(sorted(after))) == after

    question = "Who gave their name to Normandy?"
    passages = [to_passage(d) for d in HybridRetriever(store=store, k=3).invoke(question)]
    runs = []

    def encode_tokens(texts):
        runs.append(list(texts))
        return store.embeddings.encode_tokens(texts)

    e = store.embeddings
    scorer = SentenceScorer(e.encode, embed_query=e.embed_query, stored=store.sentence_vectors,
                            query_tokens=e.query_tokens, stored_tokens=store.sentence_tokens, encode_tokens=encode_tokens)
    with_tokens = ExtractiveAnswerer(scorer).answer(understand(question), passages)
    assert runs == [] and "Normans" in with_tokens.text  # the sentences' tokens all came from the index
    scorer = SentenceScorer(e.encode, embed_query=e.embed_query, query_tokens=e.query_tokens, encode_tokens=encode_tokens)
    alone = ExtractiveAnswerer(scorer).answer(understand(question), passages)
    assert len(runs) == 1 and len(runs[0]) > 1 and alone.text == with_tokens.text  # each sentence run alone: same answer
    no_match = ExtractiveAnswerer(SentenceScorer(e.encode, embed_query=e.embed_query)).answer(understand(question), passages)
    assert with_tokens.citations[0].score > no_match.citations[0].score  # the token match adds to the score


@pytest.mark.parametrize("old_manifest", ["column dropped", "column null"])
def test_an_index_split_by_an_earlier_splitter_is_split_again(tmp_path, settings, old_manifest):
    """Files indexed before the splitter joined wrapped lines (no split version) are read and split
    again at the next run, though unchanged; then they are skipped as usual."""
    import textwrap

    from index.indexer import up_to_date
    from index.split import SPLIT_VERSION

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "wrapped.txt").write_text(textwrap.fill(PARA, 60), encoding="utf-8")
    store = open_store(settings)
    assert index_paths([docs], settings, store=store, progress=False).files_indexed == 1
    assert up_to_date([docs], settings) is not None
    with store.manifest.connect() as db:
        if old_manifest == "column dropped":
            db.execute("ALTER TABLE files DROP COLUMN split_version")
            db.execute("ALTER TABLE chunks DROP COLUMN midline")
        else:
            db.execute("UPDATE files SET split_version = NULL")
    store = open_store(settings)  # an older manifest gains the column, empty
    assert up_to_date([docs], settings) is None
    again = index_paths([docs], settings, store=store, progress=False)
    assert (again.files_indexed, again.skipped) == (1, 0)
    assert [r["split_version"] for r in store.manifest.files()] == [SPLIT_VERSION]
    assert index_paths([docs], settings, store=store, progress=False).skipped == 1


def test_chunks_of_wrapped_text_record_where_they_start_and_their_stored_sentences_line_up(tmp_path, settings):
    """A chunk of hard-wrapped text often starts mid-line; the index records that, so splitting the
    chunk alone (as the answerer does) finds the document's sentences and the stored rows match."""
    import textwrap

    from index.split import split_sentences, starts_midline
    from qa.answer import ExtractiveAnswerer
    from qa.question import understand
    from qa.retrieve import HybridRetriever, to_passage
    from qa.score import SentenceScorer

    doc = tmp_path / "wrapped.txt"
    doc.write_text("\n\n".join(textwrap.fill(p, 50) for p in long_doc(60).split("\n\n")), encoding="utf-8")
    store = open_store(settings)
    index_paths([doc], settings, store=store, progress=False)
    text = store.document_text(str(doc).removeprefix(os.getcwd() + "/"))
    sentences = [(s.start, s.end) for s in split_sentences(text)]
    records = store.manifest.chunks(sorted(store.manifest.chunk_id_set()))
    stored = store.sentence_vectors(list(records))
    assert sum(r.midline for r in records.values()) >= 3
    for cid, r in records.items():
        assert r.midline == starts_midline(text, r.start)
        alone = [(r.start + s.start, r.start + s.end) for s in split_sentences(r.text, midline=r.midline)]
        assert alone == [s for s in sentences if r.start <= s[0] and s[1] <= r.end]
        assert len(stored[cid]) == len(alone)
    question = "When was the mayor of town 31 elected?"
    passages = [to_passage(d) for d in HybridRetriever(store=store, k=5).invoke(question)]
    assert any(p.midline for p in passages)
    calls = []

    def encode(texts):
        calls.append(list(texts))
        return store.embeddings.encode(texts)

    ExtractiveAnswerer(SentenceScorer(encode, stored=store.sentence_vectors)).answer(understand(question), passages)
    assert calls == [[question]]  # every sentence's vector came from the index
