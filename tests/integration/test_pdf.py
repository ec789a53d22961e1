"""PDFs: the text layer (index/pdf.py), what of it is chunked, sections, and the real-PDF corpus
(tests/data/pdfs: three typeset documents from Debian's TeX Live documentation, with questions)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

PDFS = Path(__file__).parents[1] / "data" / "pdfs"


@pytest.mark.integration
def test_real_pdfs_are_cited_right_exactly_and_quoted_without_typesetting(tmp_path):
    """Every question of the corpus over the real model and reader: the right document is cited first,
    every quote is the stored text at its offsets, and what the answer shows has no hyphen-split
    word, ligature or running header/footer in it."""
    from index.indexer import index_paths
    from index.load import load_document
    from index.settings import Settings
    from index.store import open_store
    from qa.chain import ask, build_chain

    s = Settings(data_dir=tmp_path / "pdf-index", embedding="minilm", reader="shipped")
    report = index_paths(sorted(PDFS.glob("*.pdf")), s, progress=False)
    assert report.files_indexed == 3 and not report.failed
    store = open_store(s)
    chain = build_chain(s, store=store)
    docs = {p.name: load_document(p, str(p)) for p in PDFS.glob("*.pdf")}
    questions = [json.loads(line) for line in (PDFS / "questions.jsonl").read_text().splitlines() if line.strip()]
    right, answered = 0, 0
    for q in questions:
        ans = ask(chain, q["question"])
        if ans.abstained:
            continue
        answered += 1
        right += Path(ans.citations[0].source).name == q["source"]
        for c in ans.citations:
            doc = docs[Path(c.source).name]
            assert doc.text[c.start:c.end] == c.quote  # exact offsets
            assert not any(a < c.end and c.start < b for a, b in doc.skip), (q["question"], c.quote)  # no header/footer
        shown = ans.text
        assert "\u00ad" not in shown and not re.search(r"[ﬀ-ﬆ]", shown), shown
        assert not re.search(r"[a-z]- (?!and |or |to )[a-z]", shown), shown  # "docu- mentation", not "Letter- and A4-sized"
    assert answered >= 0.9 * len(questions)
    assert right >= 0.95 * answered, (right, answered)
