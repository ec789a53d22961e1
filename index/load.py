"""Loading: a file on disk -> its extracted text, with the metadata citations need.

Covers .txt/.md (any common encoding), .html (main text only), .pdf (text layer, page offsets)
and .docx (paragraphs, headings and tables, in order). Each loader returns the document's
*extracted text*; every offset elsewhere in the project refers to that text, and the index keeps a
copy of it so quotes can always be re-checked. A change to what a loader extracts needs a new
`split.SPLIT_VERSION`, so that indexed files are read again.
Leaves out: splitting (split.py) and anything about the index.
"""
from __future__ import annotations

import bisect
import errno
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import QAError

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
BOUNDED_SUFFIXES = (".pdf", ".docx", ".html", ".htm")  # parsed in a worker with time/memory limits
MAX_LINE_CHARS = 1_000_000  # a "line" longer than this is data, not prose
MAX_DOCX_UNCOMPRESSED = 200 * 1024 * 1024  # a .docx declaring more than this is treated as a zip bomb

_DATE_PREFIX = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})\b[ \t]*")


class LoadError(QAError):
    """A file that cannot be indexed; the message is the one-line reason shown to the user."""


def io_error(e: OSError) -> LoadError:
    """An OS error reading a file -> the one-line reason a user sees."""
    if isinstance(e, FileNotFoundError):
        return LoadError("file vanished while indexing")
    if isinstance(e, PermissionError):
        return LoadError("permission denied; make the file readable")
    if isinstance(e, IsADirectoryError):
        return LoadError("is a directory")
    if e.errno == errno.ELOOP:
        return LoadError("symlink loop")
    return LoadError(f"cannot read file ({e.strerror or type(e).__name__})")


@dataclass
class LoadedDocument:
    source: str
    text: str
    body_start: int = 0  # text before this (a `date YYYY-MM-DD` prefix) is neither embedded nor quoted
    date: str | None = None
    page_starts: list[int] = field(default_factory=list)  # PDF: offset where page i+1 begins
    skip: list[tuple[int, int]] = field(default_factory=list)  # PDF: running headers/footers, kept out of chunks

    def page_at(self, offset: int) -> int | None:
        if not self.page_starts:
            return None
        return bisect.bisect_right(self.page_starts, offset)


def parse_date_prefix(text: str) -> tuple[str | None, int]:
    """A leading `date YYYY-MM-DD` -> (date, offset where the body starts); else (None, 0)."""
    m = _DATE_PREFIX.match(text)
    return (m.group(1), m.end()) if m else (None, 0)


def decode_text(data: bytes) -> str:
    """Bytes of a text file -> str, in whatever common encoding it is (UTF-8/16 with or without BOM,
    Latin-1, cp1252). Raises LoadError for binary data."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        matches = list(from_bytes(data[: 4 * 1024 * 1024]))
        if not matches:
            raise LoadError("binary or unknown encoding, not text") from None
        # Short Western text fits several code pages equally well; among the equally plausible,
        # prefer cp1252 (a superset of printable Latin-1), the most common of them.
        best = matches[0]
        tied = [m.encoding for m in matches if m.chaos <= best.chaos]
        encoding = "cp1252" if {"cp1252", "latin_1", "iso8859_1"} & set(tied) else best.encoding
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            text = data.decode("latin-1")
    if "\x00" in text[:65536]:
        raise LoadError("binary file, not text")
    return text


def _load_text(path: Path) -> str:
    return decode_text(path.read_bytes())


def _load_html(path: Path) -> str:
    import trafilatura

    html = decode_text(path.read_bytes())
    text = trafilatura.extract(html, include_comments=False, include_tables=True, favor_recall=True)
    if not text:
        # No main-content block found (a tiny page): fall back to all visible text.
        text = trafilatura.html2txt(html)
    return text


def _load_pdf(path: Path) -> tuple[str, list[int], list[tuple[int, int]]]:
    from index.pdf import extract_pdf

    return extract_pdf(path)


def _load_docx(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as z:
            declared = sum(i.file_size for i in z.infolist())
    except zipfile.BadZipFile:
        raise LoadError("corrupt .docx (not a zip archive)") from None
    if declared > MAX_DOCX_UNCOMPRESSED:
        raise LoadError(f"refused: .docx declares {declared // 2**20} MB uncompressed (zip bomb?)")
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as e:  # python-docx raises a variety of errors on malformed packages
        raise LoadError(f"corrupt .docx ({type(e).__name__})") from None
    return "\n\n".join(b for b in map(_docx_block, document.iter_inner_content()) if b.strip())


def _docx_block(item) -> str:
    """A .docx body item as text: a paragraph as it is, a heading as a Markdown heading ("# Results",
    so it is read as one: split.is_markup), a table as Markdown writes one: a "| cell | cell |" line a
    row (a merged cell once), its first row the header."""
    from docx.table import Table

    if isinstance(item, Table):
        rows = []
        for row in item.rows:
            cells, last = [], None
            for cell in row.cells:
                if cell._tc is not last:
                    cells.append(" ".join(cell.text.split()).replace("|", "/"))
                last = cell._tc
            if any(cells):
                rows.append("| " + " | ".join(cells) + " |")
                if len(rows) == 1:  # its first row is its header, as Markdown writes it: the rows are read with it
                    rows.append("|" + " --- |" * len(cells))
        return "\n".join(rows)
    style = (item.style.name if item.style is not None else "") or ""
    level = 1 if style == "Title" else int(style[8:]) if re.fullmatch(r"Heading [1-9]", style) else 0
    return "#" * min(level, 6) + " " + " ".join(item.text.split()) if level and item.text.strip() else item.text


def extract(path: Path) -> tuple[str, list[int], list[tuple[int, int]]]:
    """The extracted text of a file and, for PDFs, where each page starts and the spans of running
    headers and footers. Runs in a worker for the formats in BOUNDED_SUFFIXES, so it must be a plain
    top-level function."""
    suffix = path.suffix.lower()
    page_starts: list[int] = []
    skip: list[tuple[int, int]] = []
    if suffix == ".pdf":
        text, page_starts, skip = _load_pdf(path)
    elif suffix == ".docx":
        text = _load_docx(path)
    elif suffix in (".html", ".htm"):
        text = _load_html(path)
    else:
        text = _load_text(path)
    return text, page_starts, skip


def load_document(path: Path, source: str, runner=None, max_bytes: int | None = None) -> LoadedDocument:
    """Read and extract one file. Raises LoadError with a one-line reason for anything unusable.
    `runner` (a sandbox.BoundedRunner) bounds the time and memory of the heavier parsers."""
    from index.sandbox import ParseLimitError

    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(f"unsupported file type {suffix or '(none)'}")
    try:
        size = path.stat().st_size
        if size == 0:
            raise LoadError("empty file (0 bytes)")
        if max_bytes and size > max_bytes:
            raise LoadError(f"file is {size / 2**20:.0f} MB, over the {max_bytes / 2**20:.0f} MB limit (QA_MAX_FILE_MB)")
        if runner is not None and suffix in BOUNDED_SUFFIXES:
            text, page_starts, skip = runner.run(extract, path)
        else:
            text, page_starts, skip = extract(path)
    except ParseLimitError as e:
        raise LoadError(str(e)) from None
    except OSError as e:
        raise io_error(e) from None
    if not text.strip():
        raise LoadError("no text (file is empty or only whitespace)")
    longest = max(map(len, text.splitlines()), default=0)
    if longest > MAX_LINE_CHARS:
        raise LoadError(f"a single line of {longest / 1e6:.0f} million characters; this looks like data, not a document")
    date, body_start = parse_date_prefix(text)
    return LoadedDocument(source=source, text=text, body_start=body_start, date=date, page_starts=page_starts, skip=skip)
