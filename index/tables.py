"""Tables in text: Markdown-style rows (`| a | b |`, as load.py writes HTML and .docx tables too),
their header, and a row read with its header as prose ("Delicate: temperature 70 °C, typical use
white tea.") with the offsets back into the row (pure functions)."""
from __future__ import annotations

import functools
import re

# Markdown tables (also what .docx and HTML tables are read as: index/load.py): a header row, a
# separator row, then body rows.
_TABLE_ROW = re.compile(r"""[ \t]*\|.*\|[ \t]*""")
_TABLE_SEP = re.compile(r"""[ \t]*\|(?:[ \t]*:?-{3,}:?[ \t]*\|)+[ \t]*""")


def cells(row: str) -> list[str]:
    """A table row's cells, stripped ("| Delicate | 70 °C |" -> ["Delicate", "70 °C"]) (pure)."""
    return [c.strip() for c in row.strip().strip("|").split("|")]


def table_rows(text: str, head: str | None = None) -> dict[int, tuple[str, list[str]]]:
    """Every line of `text` that belongs to a table with a header, by its start offset: (its role,
    "header", "separator" or "body", and the header's cells) (pure). `head`: the header row of the
    table `text` opens inside of (a chunk cut from its table's header)."""
    out: dict[int, tuple[str, list[str]]] = {}
    lines, pos = [], 0
    for line in text.split("\n"):
        lines.append((pos, line))
        pos += len(line) + 1
    i = 0
    while head and i < len(lines) and _TABLE_ROW.fullmatch(lines[i][1]) and not _TABLE_SEP.fullmatch(lines[i][1]):
        out[lines[i][0]] = ("body", cells(head))
        i += 1
    while i < len(lines) - 1:
        (at, line), (at2, nxt) = lines[i], lines[i + 1]
        if _TABLE_ROW.fullmatch(line) and _TABLE_SEP.fullmatch(nxt):
            head = cells(line)
            out[at], out[at2] = ("header", head), ("separator", head)
            i += 2
            while i < len(lines) and _TABLE_ROW.fullmatch(lines[i][1]) and not _TABLE_SEP.fullmatch(lines[i][1]):
                out[lines[i][0]] = ("body", head)
                i += 1
        else:
            i += 1
    return out


@functools.lru_cache(maxsize=2)
def _document_rows(text: str) -> dict[int, tuple[str, list[str]]]:
    """`table_rows` of a whole document, kept while its chunks are planned."""
    return table_rows(text)


def row_prose(row: str) -> str:
    """A table's body row as an answer reads it ("| Delicate | 70 °C | white tea |" -> "Delicate:
    70 °C, white tea") (pure)."""
    c = [x for x in cells(row) if x]
    return f"{c[0]}: {', '.join(c[1:])}" if len(c) > 1 else " ".join(c)


def table_view(text: str, start: int = 0, end: int | None = None, head: str | None = None) -> tuple[str, list[int]]:
    """`text[start:end]` as a reader reads it, each table body row with its header's names
    ("Preset Delicate: temperature 70 °C, typical use white tea."), and for each of its characters
    the offset in `text[start:end]` it comes from (a header's name: its cell's) (pure). Without
    tables, the text itself."""
    end = len(text) if end is None else end
    rows = {at: v for at, v in table_rows(text, head).items() if v[0] == "body" and start <= at < end}
    if not rows:
        return text[start:end], list(range(end - start + 1))
    view: list[str] = []
    where: list[int] = []
    i = start
    for at in sorted(rows):
        stop = text.find("\n", at)
        stop = end if stop < 0 or stop > end else stop
        view.append(text[i:at])
        where += range(i - start, at - start)
        head = rows[at][1]
        parts, pos = [], at
        for k, cell in enumerate(text[at:stop].strip().strip("|").split("|")):
            c_at = text.find(cell, pos)
            pos = c_at + len(cell)
            value = cell.strip()
            if not value:
                continue
            v_at = c_at + cell.index(value)
            name = head[k] if k < len(head) and head[k] else ""
            parts.append((name, value, v_at))
        # "Day Saturday: opens 10:00, closes 13:00.": the row's first cell as its subject (of the
        # wordings tried, the one the reader answered most questions of a table right from)
        for n, (name, value, v_at) in enumerate(parts):
            label = (f"{name} " if n == 0 else f"{name[:1].lower()}{name[1:]} ") if name else ""
            sep = "" if n == 0 else ": " if n == 1 else ", "
            view.append(sep + label + value)
            where += [v_at - start] * (len(sep) + len(label)) + list(range(v_at - start, v_at - start + len(value)))
        if parts:
            view.append(".")
            where.append(parts[-1][2] + len(parts[-1][1]) - 1 - start)
        i = stop
    view.append(text[i:end])
    where += range(i - start, end - start + 1)
    return "".join(view), where


def table_head(text: str, start: int) -> str | None:
    """The header row of the table whose body `text[start:]` opens in, if it does (pure)."""
    line = text.rfind("\n", 0, start) + 1
    end = text.find("\n", line)
    if not _TABLE_ROW.fullmatch(text[line : end if end >= 0 else len(text)]):
        return None  # not a table row: no need to read the whole document's tables (done once a chunk)
    role = _document_rows(text).get(line)
    if role is None or role[0] != "body":
        return None
    return "| " + " | ".join(role[1]) + " |"
