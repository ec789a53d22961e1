"""Splitting is pure: offsets are exact, chunks are whole sentences, edits stay local."""
import random

from index.load import parse_date_prefix
from index.split import chunk_id, chunk_spans, split_sentences

SEED = open("seeds/000_85dd2a9e8a7d58fd.txt", encoding="utf-8").read()


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
