"""Splitting is pure: offsets are exact, chunks are whole sentences, edits stay local."""
import glob
import json
import random
import textwrap

from index.load import parse_date_prefix
from index.split import chunk_id, chunk_spans, split_sentences, starts_midline
from index.text import as_prose, one_line

SEED = open("seeds/000_85dd2a9e8a7d58fd.txt", encoding="utf-8").read()
SEEDS = "\n\n".join(t[parse_date_prefix(t)[1]:] for t in (open(p, encoding="utf-8").read() for p in sorted(glob.glob("seeds/*.txt"))))


def test_date_prefix_is_metadata_and_body_offset_points_past_it():
    date, body = parse_date_prefix(SEED)
    assert date == "2022-08-18"
    assert SEED[body:].startswith("One of China's top diplomats")
    assert parse_date_prefix("No date here.") == (None, 0)


def test_sentences_are_exact_slices_and_respect_abbreviations():
    text = "Dr. Smith met J. Doe in the U.S. on Monday. He left!  Then:\n\nA new line. \"Quoted.\" End"
    spans = split_sentences(text)
    got = [text[s.start : s.end] for s in spans]
    assert got == ["Dr. Smith met J. Doe in the U.S. on Monday.", "He left!", "Then:", "A new line.", "\"Quoted.\"", "End"]
    text = "The population amounted to ca. 2 million at that time. See vol. 3, pp. 12-14. It grew."
    assert [text[s.start : s.end] for s in split_sentences(text)] == [
        "The population amounted to ca. 2 million at that time.", "See vol. 3, pp. 12-14.", "It grew."]


def test_chunks_are_exact_cover_everything_and_overlap_by_one_sentence():
    _, body = parse_date_prefix(SEED)
    chunks = chunk_spans(SEED, body, max_words=60, overlap_sentences=1)
    sentences = split_sentences(SEED, body)
    assert len(chunks) > 3
    assert chunks[0].start == sentences[0].start and chunks[-1].end == sentences[-1].end
    starts = {s.start for s in sentences}
    ends = {s.end for s in sentences}
    for a, b in zip(chunks, chunks[1:]):
        assert a.start in starts and a.end in ends  # whole sentences only
        if sum(1 for s in sentences if a.start <= s.start and s.end <= a.end) > 1:
            assert b.start < a.end  # neighbours share a sentence
        else:
            assert b.start > a.start  # a one-sentence chunk cannot overlap and still advance
    for c in chunks:
        assert len(SEED[c.start : c.end].split()) <= 60 or SEED[c.start : c.end].count(". ") == 0


def test_a_giant_single_line_is_split_on_words():
    words = [f"w{i}" for i in range(1000)]
    text = " ".join(words)
    chunks = chunk_spans(text, max_words=100, overlap_sentences=0)
    assert all(len(text[c.start : c.end].split()) <= 100 for c in chunks)
    assert " ".join(text[c.start : c.end] for c in chunks).split() == words


def test_an_edit_in_the_middle_changes_only_nearby_chunks():
    rng = random.Random(7)
    vocab = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho".split()
    sentences = [" ".join(rng.choice(vocab) for _ in range(rng.randint(8, 25))).capitalize() + "." for _ in range(400)]
    before = " ".join(sentences)
    sentences[200] = "This sentence was rewritten by the user, and it is now quite a bit longer than it was."
    after = " ".join(sentences)
    def ids(t):
        return [chunk_id("f", t[c.start : c.end]) for c in chunk_spans(t, max_words=120)]

    old, new = ids(before), ids(after)
    changed = set(new) - set(old)
    assert len(old) > 50
    assert 1 <= len(changed) <= 4, f"{len(changed)} of {len(new)} chunks changed"


def test_chunk_ids_derive_from_source_and_text():
    assert chunk_id("a.txt", "hello") == chunk_id("a.txt", "hello")
    assert chunk_id("a.txt", "hello") != chunk_id("b.txt", "hello")
    assert chunk_id("a.txt", "hello", 0) != chunk_id("a.txt", "hello", 1)


def wrapped(text: str, width: int = 72) -> str:
    """The seed's paragraphs hard-wrapped at `width`, as text files and PDF text layers are."""
    return "\n\n".join(textwrap.fill(p, width, break_on_hyphens=False) for p in text.split("\n\n"))


def test_a_wrapped_paragraph_splits_into_the_sentences_of_the_unwrapped_one():
    _, body = parse_date_prefix(SEED)
    flat = SEED[body:]
    want = [flat[s.start : s.end] for s in split_sentences(flat)]
    for width in (40, 60, 72, 100):
        text = wrapped(flat, width)
        spans = split_sentences(text)
        assert [one_line(text[s.start : s.end]) for s in spans] == want, width
        assert any("\n" in text[s.start : s.end] for s in spans)  # a sentence's span keeps its line breaks


def test_wrapped_squad_paragraphs_split_as_their_one_line_originals():
    """The 301 SQuAD paragraphs, real prose (abbreviations, numbers, quotes, brackets), wrapped at
    three widths: each splits into the sentences it does as one line."""
    data = json.loads(open("tests/data/squad2-dev-a.json", encoding="utf-8").read())
    paragraphs = [p["context"] for article in data["data"] for p in article["paragraphs"]]
    assert len(paragraphs) > 100
    for width in (50, 72, 100):
        for flat in paragraphs:
            text = textwrap.fill(flat, width, break_on_hyphens=False, break_long_words=False)
            want = [one_line(flat[s.start : s.end]) for s in split_sentences(flat)]
            assert [one_line(text[s.start : s.end]) for s in split_sentences(text)] == want, (width, text)


def test_wrapped_text_draws_the_chunks_of_its_one_line_original():
    """Chunk boundaries are content-defined: wrapping a document at any width must not move them,
    or the same text would be retrieved differently as a .txt and as a PDF."""
    flat_chunks = [one_line(SEEDS[c.start : c.end]) for c in chunk_spans(SEEDS)]
    assert len(flat_chunks) > 5
    for width in (40, 60, 72, 100):
        text = wrapped(SEEDS, width)
        assert [one_line(text[c.start : c.end]) for c in chunk_spans(text)] == flat_chunks, width


def test_a_chunk_of_wrapped_text_splits_as_its_document_does():
    """The answerer splits each chunk alone, and a chunk may start mid-line (the index records
    whether it does): any run of whole sentences must split into those sentences, or stored
    sentence vectors would not line up. A text that starts a line may start with a title."""
    for width in (40, 60, 72):
        text = wrapped(SEEDS, width)
        sentences = [(s.start, s.end) for s in split_sentences(text)]
        assert sum(text[a - 1] != "\n" for a, _ in sentences[1:]) >= 5  # some start mid-line
        for i in range(len(sentences)):
            for j in range(i, min(i + 3, len(sentences))):
                lo, hi = sentences[i][0], sentences[j][1]
                alone = [(lo + s.start, lo + s.end) for s in split_sentences(text[lo:hi], midline=starts_midline(text, lo))]
                assert alone == sentences[i : j + 1], (width, text[lo:hi])
    text = "Kettleby Lighthouse\nThe lighthouse was built in 1871 by the engineer Marta\nQuill."
    assert [text[s.start : s.end] for s in split_sentences(text)] == ["Kettleby Lighthouse", text[20:]]


def test_headings_list_items_table_rows_code_and_titles_keep_their_own_lines():
    text = ("# Setup\nInstall the package with pip and then run the command shown below in a terminal\n"
            "window. Then restart.\n- first item of a list\n- second item\n1. numbered item of a list that is long enough\n"
            "2. next numbered item\n| name | value |\n| uid | 37 |\n```\nrun --fast --with-a-long-flag-name --and-another\n```\n"
            "Version\nThis is version 0.21 of the specification, last updated in October.\n"
            "  2. Basic Permissions.\n\nAll rights granted under this License are granted for the term of\n"
            "copyright on the Program, and are irrevocable.")
    got = [text[s.start : s.end] for s in split_sentences(text)]
    assert got == [
        "# Setup",
        "Install the package with pip and then run the command shown below in a terminal\nwindow.", "Then restart.",
        "- first item of a list", "- second item", "1. numbered item of a list that is long enough", "2. next numbered item",
        "| name | value |", "| uid | 37 |", "```", "run --fast --with-a-long-flag-name --and-another", "```",
        "Version", "This is version 0.21 of the specification, last updated in October.", "2. Basic Permissions.",
        "All rights granted under this License are granted for the term of\ncopyright on the Program, and are irrevocable."]
    # a numbered heading keeps its number and its own line (it was "2.11." and "Subclassing A type is ...")
    text = "available.\n2.11. Subclassing\nA type is a subclass of another if any instance of the first is also\none of the second.\n1.2 Scope\nIt covers it."
    assert [text[s.start : s.end] for s in split_sentences(text)] == [
        "available.", "2.11. Subclassing", "A type is a subclass of another if any instance of the first is also\none of the second.",
        "1.2 Scope", "It covers it."]
    # a short line runs on when the next one continues it in lower case
    text = "any data of this type is also some other type, given by the type\nattribute. Next."
    assert [text[s.start : s.end] for s in split_sentences(text)][0].endswith("type\nattribute.")


def test_header_fields_keep_their_own_lines_and_a_chunk_of_them_splits_as_its_document():
    """Package metadata, e-mail headers and front matter: "Name: x" under "Version: 2.4" is a new
    field, not a wrap (they ran together: "Metadata-Version: 2.4 Name: watchfiles" [1]). Prose that
    wraps at a "Latin: Normanni)" still runs on."""
    text = ("Metadata-Version: 2.4\nName: watchfiles\nVersion: 1.3.0\nSummary: Simple, modern and high performance "
            "file watching and code reload in python.\nLicense: MIT\n\nThe Normans (Norman: Nourmands; French: Normands;\n"
            "Latin: Normanni) gave their name to Normandy.\nVersion: 2")
    got = [text[s.start : s.end] for s in split_sentences(text)]
    assert got == ["Metadata-Version: 2.4", "Name: watchfiles", "Version: 1.3.0",
                   "Summary: Simple, modern and high performance file watching and code reload in python.", "License: MIT",
                   "The Normans (Norman: Nourmands; French: Normands;\nLatin: Normanni) gave their name to Normandy.",
                   "Version: 2"]
    spans = split_sentences(text)
    for i in range(len(spans)):
        for j in range(i, len(spans)):
            lo, hi = spans[i].start, spans[j].end
            alone = [(lo + s.start, lo + s.end) for s in split_sentences(text[lo:hi], midline=starts_midline(text, lo))]
            assert alone == [(s.start, s.end) for s in spans[i : j + 1]], text[lo:hi]


def test_a_chunk_that_starts_after_indentation_does_not_start_mid_line():
    """Licences and code indent their lines: a chunk that opens after the indentation opens its line
    (it was read as mid-line, so "Apache License" ran into the "Version 2.0" line under it)."""
    text = "                    Apache License\n              Version 2.0, January 2004\n\n   1. Definitions.\n  }\n  // a comment."
    assert not starts_midline(text, text.index("Apache")) and not starts_midline(text, text.index("}"))
    assert starts_midline(text, text.index("January"))
    spans = split_sentences(text)
    assert [text[s.start : s.end] for s in spans][:2] == ["Apache License", "Version 2.0, January 2004"]
    for s in spans:
        alone = split_sentences(text[s.start :], midline=starts_midline(text, s.start))
        assert [(s.start + a.start, s.start + a.end) for a in alone] == [(x.start, x.end) for x in spans if x.start >= s.start]


def test_an_answer_reads_markdown_links_and_emphasis_as_their_words():
    assert as_prose("For more, see the [official\ndocumentation](https://x.io/en/latest/index.html).") == "For more, see the official documentation."
    assert as_prose("The [`exec()`][] and [`execFile()`][ref] calls, **Requests** and __this__.") == "The `exec()` and `execFile()` calls, Requests and this."
    assert as_prose("See [a page](https://en.wikipedia.org/wiki/Foo_(bar)).") == "See a page."
    for code in ("Use matrix[i][j] or f(x)[0](y).", "x ** 2 * 3 ** 4", "a shared database[SharedMIME] and [1, 2]."):
        assert as_prose(code) == code
