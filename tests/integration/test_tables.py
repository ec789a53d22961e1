"""Tables: a row is read with its header's names and answers as "Delicate: 70 °C, white tea",
citing the row's exact offsets; a header row never answers. Markdown, HTML (trafilatura writes
Markdown tables), .docx (index/load.py writes its tables so) and PDF (index/pdf.py finds a table's
columns in PDFium's text rectangles) alike."""
from __future__ import annotations

from pathlib import Path

import pytest

KETTLE = Path(__file__).parents[1] / "data" / "kettle.md"  # ../shared/ux/kettle.md, a fictional kettle's manual


def pdf_table(path: Path) -> None:
    """A PDF (fpdf2) with a table between two paragraphs, as a shop's leaflet might have one."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    pdf.multi_cell(0, 6, "The Larkfield bicycle lamp comes in three models. Every model charges over USB in two hours.")
    pdf.ln(4)
    with pdf.table() as table:
        for values in [("Model", "Price", "Warranty"), ("Basic", "49 EUR", "1 year"), ("Pro", "89 EUR", "3 years"),
                       ("Studio", "129 EUR", "5 years")]:
            row = table.row()
            for value in values:
                row.cell(value)
    pdf.ln(4)
    pdf.multi_cell(0, 6, "Send a broken lamp back in its box with the receipt.")
    pdf.output(str(path))


@pytest.fixture(scope="module")
def table_chain(tmp_path_factory):
    import docx

    from index.indexer import index_paths
    from index.settings import Settings
    from qa.chain import build_chain

    folder = tmp_path_factory.mktemp("tables")
    d = docx.Document()
    d.add_heading("Opening hours of the Millbrook library", 1)
    d.add_paragraph("The Millbrook library lends books, films and tools to everyone who lives in the parish.")
    hours = [["Day", "Opens", "Closes"], ["Monday to Friday", "9:00", "19:00"], ["Saturday", "10:00", "13:00"], ["Sunday", "closed", "closed"]]
    table = d.add_table(rows=len(hours), cols=3)
    for r, row in enumerate(hours):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    d.add_paragraph("Returns can be left in the box by the door at any time.")
    d.save(str(folder / "library.docx"))
    pdf_table(folder / "models.pdf")
    s = Settings(data_dir=folder / "index", embedding="minilm", reader="shipped")
    report = index_paths([KETTLE, folder / "library.docx", folder / "models.pdf"], s, progress=False)
    assert report.files_indexed == 3 and not report.failed
    return build_chain(s), folder


@pytest.mark.integration
@pytest.mark.parametrize("question, shown, row", [
    ("What temperature is the Delicate preset?", "Delicate: **70 °C**, white tea", "| Delicate | 70 °C | white tea |"),
    ("When does the library close on Saturday?", "Saturday: 10:00, **13:00**", "| Saturday | 10:00 | 13:00 |"),
    ("Which preset is used for white tea?", "**Delicate**: 70 °C, white tea", "| Delicate | 70 °C | white tea |"),
    ("How long is the warranty of the Pro lamp?", "Pro: 89 EUR, **3 years**", "| Pro | 89 EUR | 3 years |"),
])
def test_a_question_a_table_answers_is_answered_with_its_row(table_chain, question, shown, row):
    from index.load import load_document
    from qa.chain import ask
    from qa.render import with_span

    chain, folder = table_chain
    ans = ask(chain, question)
    assert not ans.abstained and with_span(ans, ans.text).startswith(shown + " [1]"), ans.text
    c = ans.citations[0]
    assert c.quote == row and not ans.text.startswith(("Preset", "Model")) and "| Preset |" not in ans.text
    path = Path(c.source)
    assert load_document(path, c.source).text[c.start:c.end] == row  # the row's exact offsets
