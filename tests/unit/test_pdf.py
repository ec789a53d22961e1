"""PDFs: the text layer (index/pdf.py), what of it is chunked, sections, and the real-PDF corpus
(tests/data/pdfs: three typeset documents from Debian's TeX Live documentation, with questions)."""
from __future__ import annotations

from pathlib import Path

from index.load import LoadedDocument
from index.pdf import clean_page, furniture, hyphens, is_header, table_boxes, tabulate
from index.structure import (
    headings,
    is_reference_list,
    is_reference_section,
    is_residue,
)
from index.text import as_prose
from qa.reader import Reading, Span

PDFS = Path(__file__).parents[1] / "data" / "pdfs"


def test_pdfium_marks_become_soft_hyphens_ligatures_letters_and_lines_newlines():
    assert clean_page("the ﬁrst ﬂow\r\nen\ufffedorsed by  \r\n") == "the first flow\nen\u00addorsed by"
    assert clean_page("one\fpage") == "one\npage"  # pages are joined by form feeds to find hyphens


def _row(y: float, *cells: tuple[float, float]) -> list[tuple[float, float, float, float]]:
    return [(left, y, right, y + 8) for left, right in cells]


def test_aligned_columns_over_three_lines_or_more_are_a_table_and_prose_or_two_lines_are_not():
    prose = _row(100, (30, 60), (62, 200), (203, 480))  # word-space gaps: one cell
    header = _row(90, (30, 60), (210, 270), (390, 440))
    rows = [_row(80 - 10 * i, (30, 65), (211, 235), (390, 430 + 10 * i)) for i in range(3)]
    found = table_boxes(prose + header + sum(rows, []) + prose)
    assert len(found) == 1 and len(found[0]) == 4 and all(len(r) == 3 for r in found[0])
    assert table_boxes(prose + header + rows[0] + prose) == []  # two lines: no table
    shifted = _row(50, (30, 65), (120, 150), (390, 430))  # its second cell is not under the header's
    assert len(table_boxes(header + sum(rows, []) + shifted)[0]) == 4
    # the second column of a two-column page starts a new line: never a cell beside the first's
    assert table_boxes(_row(700, (30, 280)) + _row(690, (30, 280)) + _row(700, (310, 560)) + _row(690, (310, 560))) == []


def test_a_header_is_short_names_not_numbers_or_code():
    assert is_header(["Preset", "Temperature", "Typical use"]) and is_header(["Day", "Opens (h)", "Closes"])
    assert not is_header(["1 Introduction", "1"])  # a contents list
    assert not is_header(["\\author", "100 Author"]) and not is_header(["F", "Force, N"])
    assert not is_header(["botcap", "put the caption at the bottom of the float instead of on top of it."])


def test_a_table_is_written_as_markdown_rows_only_where_its_rows_are_the_pages_lines():
    page = "Four presets.\nPreset Temperature Typical use\nDelicate 70 °C white tea\nBlack 95 °C black  tea\nDescale monthly."
    rows = [["Preset", "Temperature", "Typical use"], ["Delicate", "70 °C", "white tea"], ["Black", "95 °C", "black tea"]]
    written, until = tabulate(page, [rows])
    assert written == ("Four presets.\n| Preset | Temperature | Typical use |\n| --- | --- | --- |\n"
                       "| Delicate | 70 °C | white tea |\n| Black | 95 °C | black tea |\nDescale monthly.")
    assert page[until:] == "\nDescale monthly." and written.endswith(page[until:])
    assert tabulate(page, [[["1 Introduction", "1"], ["2 Purpose", "1"], ["3 Usage", "2"]]]) == (page, 0)  # no header
    assert tabulate(page, [rows[:1] + [["Green", "80 °C", "green tea"]] + rows[2:]]) == (page, 0)  # not the page's lines
    assert tabulate(page, [rows], avoid=[(14, 44)]) == (page, 0)  # its header line is a running header


def test_a_hyphen_at_a_line_end_stays_only_between_two_words_that_do_not_join():
    text = "a camera\u00adready copy, the atten\u00adtion, the camera is ready; atten"
    assert hyphens(text) == "a camera-ready copy, the atten\u00adtion, the camera is ready; atten"
    assert hyphens("at\u00adtention to attention") == "at\u00adtention to attention"  # joined, it is a word
    assert len(hyphens(text)) == len(text)


def test_running_headers_footers_and_page_numbers_are_found_by_repetition():
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    pages = [f"Journal of Tests, Vol. 3 Trovato et al.\nBody text of page {w} goes on here.\nMore about {w}.\n{i}"
             for i, w in enumerate(words, start=1)]
    pages[2] = "A page that starts with prose.\nIt has no header.\n3"
    spans = furniture(pages)
    assert [pages[0][a:b] for a, b in spans[0]] == ["Journal of Tests, Vol. 3 Trovato et al.", "1"]
    assert [pages[2][a:b] for a, b in spans[2]] == ["3"]
    assert furniture(["Only one page.\nNo header at all."]) == [[]]


def test_as_prose_reads_a_soft_hyphen_and_a_line_end_hyphen_as_one_word():
    assert as_prose("the docu\u00admentation of the self-\n  attention layer") == "the documentation of the self-attention layer"
    assert as_prose("a list:\n- item") == "a list: - item"  # a hyphen that starts a line is not a word's


def test_headings_numbered_named_and_markdown_and_none_inside_a_reference_list():
    text = ("Title of the paper\nABSTRACT\nWe study things.\n1 INTRODUCTION\nText.\n3.2 Dynamic masking\nMore.\n"
            "2 of the runs failed\nII. MATH AND EQUATIONS\n# A Markdown heading\nREFERENCES\n12. Smith, J. A paper\n")
    assert [h for _, h in headings(text)] == ["ABSTRACT", "1 INTRODUCTION", "3.2 Dynamic masking", "II. MATH AND EQUATIONS",
                                              "A Markdown heading", "REFERENCES"]
    assert all(text[at:].startswith(h.split()[0]) for at, h in headings(text))


def test_reference_lists_and_table_residue_are_told_from_prose():
    assert is_reference_section("REFERENCES") and is_reference_section("7 Bibliography") and not is_reference_section("3 Results")
    assert is_reference_list("[1] E. Witten, (2001), hep-th.\n[2] A. Name, Phys. Rev. 94.\nand more")
    assert not is_reference_list("Prose that cites [1] once.\nAnd goes on.")
    assert is_residue("Zn 0.300 15.20 2.970 Lib 0.380 1.730 2.830 Cd 0.530 17.10 3.160")
    assert not is_residue("The widetext environment will make the text the width of the full page.")


def test_chunks_leave_out_running_headers_and_carry_their_section_and_kind():
    from index.indexer import plan_chunks
    from index.settings import Settings

    page1 = "Running Header\n1 Introduction\nThe method reads documents well. It cites them."
    page2 = "Running Header\nREFERENCES\n[1] A. Author, A paper, 2001.\n[2] B. Author, Another, 2002."
    text = page1 + "\n\n" + page2
    starts = [0, len(page1) + 2]
    skip = [(0, 14), (starts[1], starts[1] + 14)]
    doc = LoadedDocument("p.pdf", text, page_starts=starts, skip=skip)
    records = plan_chunks(doc, Settings(embedding="fake"))
    assert all("Running Header" not in r.text for r in records)
    assert [(r.page, r.section, r.kind) for r in records] == [(1, "1 Introduction", None), (2, "REFERENCES", "references")]
    assert all(text[r.start:r.end] == r.text for r in records)


def test_the_answer_prefers_a_prose_passage_over_a_reference_list():
    reading = Reading([0.95, 0.7], [Span(0, 0, 3, "ref", 5.0), Span(1, 4, 8, "prose", 1.0)])
    assert reading.best([False, True], threshold=0.6).text == "prose"
    assert reading.best([False, True], threshold=0.8).text == "ref"  # no prose passage answers: the list may


def test_two_column_pages_read_column_by_column():
    from index.pdf import extract_pdf

    text, starts, skip = extract_pdf(PDFS / "sample-sigconf.pdf")
    prose = as_prose(text)
    assert "The “acmart” document class can be used to prepare articles for any ACM publication — conference or journal" in prose
    assert "2 TEMPLATE OVERVIEW As noted in the introduction, the “acmart” document class can be used" in prose
    assert len(starts) == 6 and all(text[a:b].startswith(("Conference acronym", "The Name of the Title")) for a, b in skip)
