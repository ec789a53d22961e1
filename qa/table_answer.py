"""When the answer is in a table: the row the question names, and the cell under the column it asks
about ("What temperature does the Delicate preset use?" -> the Delicate row, its "70 °C").

The reader reads a table row with its header as prose (index/tables.py), but it reads one window at a
time, so it may mark a cell of another row, or prose above the table, when the question names one row.
Pure functions over the answer's sentences; leaves out parsing tables (index/tables.py) and choosing
the reader's span (qa/reader.py).
"""
from __future__ import annotations

import re
from dataclasses import replace

from index.tables import cells, table_rows
from index.text import content_stems
from qa.cite import Sentence
from qa.schema import Passage


def table_roles(sentences: list[Sentence], passages: list[Passage]) -> list[str | None]:
    """Each sentence's role in a table of its passage ("header", "separator", "body"), or None
    (pure): a table row is a sentence of its own (index/split.py)."""
    rows = {}
    out = []
    for s in sentences:
        p = passages[s.passage]
        if s.passage not in rows:
            rows[s.passage] = table_rows(p.text, p.table_head)
        local = s.start - p.start
        out.append(rows[s.passage].get(p.text.rfind("\n", 0, local) + 1, (None,))[0])
    return out


def row_naming(question: str, row: str) -> list[int]:
    """The cells of a table row whose words the question all uses: what it names the row by (pure)."""
    asked = content_stems(question)
    return [c for c, v in enumerate(cells(row)) if (st := content_stems(v)) and st <= asked]


def the_named_row(naming: dict[int, list[int]]) -> int | None:
    """The one row the question names, given the cells it names each row by (pure): a row named by its
    key, the first cell ("Saturday"), before rows named by a value ("closed", which "close" also
    matches); None when no row, or several alike, are named."""
    for named in ([k for k, c in naming.items() if 0 in c], [k for k, c in naming.items() if c]):
        if named:
            return named[0] if len(named) == 1 else None
    return None


def named_row(question: str, i: int, sentences: list[Sentence], passages: list[Passage], role: list, span, a: int, b: int):
    """A table row answers a question about the thing in its first cell ("Saturday", "Delicate"):
    when the question names one row of the table, that row answers, whichever the reader read; its
    span is the cell under the column the question names ("close" -> "Closes"), when it names one.
    Returns (the sentences holding the answer, the span, its start and end in the source)."""
    asked = content_stems(question)
    s = sentences[i]
    same = [k for k, t in enumerate(sentences) if t.passage == s.passage and role[k] == "body"]
    naming = {k: row_naming(question, sentences[k].text) for k in same}
    one = the_named_row(naming)
    k = i if one is None else one
    row = sentences[k]
    p = passages[row.passage]
    head = table_rows(p.text, p.table_head).get(p.text.rfind("\n", 0, row.start - p.start) + 1, (None, []))[1]
    values = cells(row.text)
    used = naming[k] if one is not None else []  # the cells the question names the row by: conditions, not answers
    cols = [c for c in range(min(len(head), len(values))) if values[c] and c not in used and content_stems(head[c]) & asked]
    if 0 in cols and len(cols) > 1:  # "Which preset ...": asked for the row's key
        cols = [0]
    if not cols and used and 0 not in used:  # named by another of its cells ("... for white tea?"): its key answers
        cols = [0]
    if len(cols) != 1:  # no column named, or several: the reader's span stands, in its row
        return [k], span if k == i else None, a, b
    seg = list(re.finditer(r"[^|]+", row.text))[cols[0]]
    value = values[cols[0]]
    at = row.start + seg.start() + seg.group().index(value)
    return [k], replace(span, passage=row.passage, start=at - p.start, end=at - p.start + len(value), text=value), at, at + len(value)


def table_answer(question: str, holding: list[int], sentences: list[Sentence], passages: list[Passage], role: list,
                 span, a: int, b: int):
    """The answer's sentences and span once tables are taken into account (pure): the reader read a
    table row, or prose of a document one of whose table rows the question names; that named row
    answers. Otherwise `holding`, `span`, `a`, `b` come back as they were."""
    if role[holding[0]] == "body":
        return named_row(question, holding[0], sentences, passages, role, span, a, b)
    source = passages[span.passage].source
    one = the_named_row({k: row_naming(question, t.text) for k, t in enumerate(sentences)
                         if passages[t.passage].source == source and role[k] == "body"})
    if one is None:
        return holding, span, a, b
    holding, cell, a, b = named_row(question, one, sentences, passages, role, span, a, b)
    return holding, (None if cell is span else cell), a, b  # no column named: the row is quoted, nothing in it marked
