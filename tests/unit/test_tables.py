"""Tables: a row is read with its header's names and answers as "Delicate: 70 °C, white tea",
citing the row's exact offsets; a header row never answers. Markdown, HTML (trafilatura writes
Markdown tables) and .docx (index/load.py writes its tables so) alike."""
from __future__ import annotations

from index.tables import cells, row_prose, table_head, table_rows, table_view

TABLE = "Intro line.\n| Preset | Temperature | Typical use |\n| --- | --- | --- |\n| Delicate | 70 °C | white tea |\n| Boil | 100 °C | coffee |\nAfter."


def test_table_rows_know_each_rows_role_and_header():
    rows = table_rows(TABLE)
    roles = {TABLE[at:TABLE.index("\n", at)]: role for at, (role, _) in rows.items()}
    assert list(roles.values()) == ["header", "separator", "body", "body"]
    assert all(head == ["Preset", "Temperature", "Typical use"] for _, head in rows.values())
    assert table_rows("| a | b |\n| c | d |") == {}  # no separator: no header, no table of ours


def test_a_chunk_cut_from_its_header_reads_its_rows_with_the_header_it_carries():
    at = TABLE.index("| Delicate")
    head = table_head(TABLE, at)
    assert head == "| Preset | Temperature | Typical use |"
    chunk = TABLE[at:]
    assert [r for r, _ in table_rows(chunk, head).values()] == ["body", "body"]
    assert table_head(TABLE, 0) is None


def test_the_reader_sees_a_row_with_its_header_and_every_character_maps_back():
    view, where = table_view(TABLE)
    assert "Preset Delicate: temperature 70 °C, typical use white tea." in view
    assert len(where) == len(view) + 1
    i = view.index("70 °C")
    assert TABLE[where[i]:where[i + 4] + 1] == "70 °C"
    assert view.startswith("Intro line.\n| Preset |") and view.endswith("\nAfter.")
    plain = "No table here."
    assert table_view(plain) == (plain, list(range(len(plain) + 1)))


def test_a_row_reads_as_its_first_cell_then_the_rest():
    assert row_prose("| Delicate | 70 °C | white tea |") == "Delicate: 70 °C, white tea"
    assert cells("| a |  b | |") == ["a", "b", ""]
