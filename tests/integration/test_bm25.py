"""BM25 is updated incrementally: edits go into a delta scored with the main index's statistics,
removed chunks are masked out, and only a large delta triggers a rebuild."""

from index.bm25 import Bm25Index
from index.indexer import index_paths
from index.store import open_store


def test_delta_search_matches_a_rebuild_in_order(tmp_path):
    rows = [(f"d{i}", f"document {i} about rivers and castles number{i}") for i in range(50)]
    main = Bm25Index(tmp_path / "a")
    main.build(rows, generation=1)
    added = [("new1", "the zebra crossed the river near the castle"), ("new2", "a zebra and another zebra")]
    main.apply_delta(added, removed={"d3"}, generation=2)
    full = Bm25Index(tmp_path / "b")
    full.build([r for r in rows if r[0] != "d3"] + added, generation=2)
    assert [i for i, _ in main.search("zebra", 5)] == [i for i, _ in full.search("zebra", 5)] == ["new2", "new1"]
    assert "d3" not in [i for i, _ in main.search("number3 document", 10)]
    assert [i for i, _ in main.search("number7", 3)] == [i for i, _ in full.search("number7", 3)]


def test_word_idf_weighs_rare_words_over_common_ones_in_main_and_delta(tmp_path):
    rows = [(f"d{i}", f"a story about rivers, number{i}" + (" and a castle" if i < 5 else "")) for i in range(40)]
    index = Bm25Index(tmp_path / "a")
    index.build(rows, generation=1)
    idf = index.word_idf(["rivers", "castle", "Castle's", "zebra", "the", "u"])
    assert idf["rivers"] < idf["castle"] < idf["zebra"]  # in every chunk < in five < in none
    assert idf["Castle's"] == idf["castle"]  # read as BM25 reads it
    assert idf["the"] is None and idf["u"] is None  # words BM25 does not index
    index.apply_delta([(f"n{i}", "a zebra by the river") for i in range(10)], removed=set(), generation=2)
    assert index.word_idf(["zebra"])["zebra"] < idf["zebra"]  # the delta's chunks count


def test_file_edits_update_bm25_without_a_rebuild(tmp_path, settings):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(30):
        (docs / f"f{i}.txt").write_text(f"File {i} talks about the harbour and its boats, item{i}.", encoding="utf-8")
    store = open_store(settings)
    index_paths([docs], settings, store=store, progress=False)
    built_at = store.bm25.stored_generation()
    assert built_at == store.manifest.generation()
    (docs / "f5.txt").write_text("File 5 now talks about a quokka on the pier.", encoding="utf-8")
    (docs / "f6.txt").unlink()
    index_paths([docs], settings, store=store, progress=False)
    assert store.bm25.stored_generation() == built_at, "a small edit must not rebuild the main index"
    hits = [i for i, _ in store.bm25.search("quokka", 5)]
    assert len(hits) == 1 and store.manifest.chunks(hits)[hits[0]].source.endswith("f5.txt")
    assert not any(store.manifest.chunks([i]).get(i) is None for i, _ in store.bm25.search("item6 harbour", 30))
    # A fresh process (a new Store) sees the same: saved main index + delta from the manifest.
    fresh = open_store(settings)
    fresh.refresh_bm25()
    assert [i for i, _ in fresh.bm25.search("quokka", 5)] == hits


def test_a_name_is_found_typed_with_or_without_its_accents(tmp_path):
    rows = [("a", "Möngke Khan became Great Khan in 1251."), ("b", "Hervé served as a Byzantine general."),
            ("c", "Kublai Khan founded the Yuan dynasty.")]
    index = Bm25Index(tmp_path / "a")
    index.build(rows[:2], generation=1)
    index.apply_delta(rows[2:] + [("d", "Les Huguenots de Fécamp")], removed=set(), generation=2)
    assert [i for i, _ in index.search("When did Mongke become Great Khan?", 1)] == ["a"]
    assert [i for i, _ in index.search("herve", 1)] == ["b"]
    assert [i for i, _ in index.search("Fecamp", 1)] == ["d"]  # in the delta too
    assert [i for i, _ in index.search("Kūblai", 1)] == ["c"]  # and the other way round


def test_unseen_names_the_words_no_chunk_has(tmp_path):
    index = Bm25Index(tmp_path / "a")
    index.build([("a", "The Palestinian issue and the Normandy landings."), ("b", "Wang Yi spoke with Möngke.")], generation=1)
    index.apply_delta([("c", "Blinken visited Tel Aviv.")], removed=set(), generation=2)
    asked = ["Wang", "Mongke", "Blinken", "Palestine", "Normans", "Ukraine", "Tokyo", "Aviv", "U", "the"]
    # seen: in the main index, in the delta, without accents, or sharing a stem of 4+ letters;
    # a single letter or a stopword is no word BM25 reads, so it is never called unseen
    assert index.unseen(asked) == ["Ukraine", "Tokyo"]
    assert Bm25Index(tmp_path / "empty").unseen(["Ukraine"]) == ["Ukraine"]


def test_an_index_saved_by_an_older_tokenizer_is_rebuilt(tmp_path, settings):
    import json

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Möngke Khan became Great Khan in 1251.", encoding="utf-8")
    store = open_store(settings)
    index_paths([docs], settings, store=store, progress=False)
    meta_path = settings.data_dir / "bm25" / "ids.json"
    meta = json.loads(meta_path.read_text())
    del meta["tokenizer"]  # as the index of an earlier version was saved
    meta_path.write_text(json.dumps(meta))
    fresh = open_store(settings)
    assert fresh.bm25.stored_generation() == -1
    fresh.refresh_bm25()
    assert fresh.bm25.stored_generation() == fresh.manifest.generation()
    assert len(fresh.bm25.search("Mongke", 1)) == 1


def test_the_chains_sentence_scorer_weighs_words_by_the_index(tmp_path, settings):
    from qa.chain import sentence_scorer

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(12):
        (docs / f"f{i}.txt").write_text(f"The harbour holds boats. Note {i}." + (" A quokka lives here." if i == 3 else ""))
    store = open_store(settings)
    index_paths([docs], settings, store=store, progress=False)
    weights = sentence_scorer(store).weights("Does a quokka sail boats?", None)
    assert set(weights) == {"quokka", "sail", "boat"}
    assert weights["boat"] < weights["quokka"] < weights["sail"]  # in every file < in one < in none


def _texts() -> list[str]:
    """Real text of every kind the index meets: SQuAD paragraphs and questions (accents, numbers,
    apostrophes), the test PDFs' text (soft hyphens, ligatures, symbols) and the seeds."""
    import json
    from pathlib import Path

    from index.load import load_document

    data = Path(__file__).parents[1] / "data"
    squad = json.loads((data / "squad2-dev-a.json").read_text())["data"]
    texts = [p["context"] for a in squad for p in a["paragraphs"]]
    texts += [q["question"] for a in squad for p in a["paragraphs"] for q in p["qas"]]
    texts += [load_document(p, str(p)).text for p in sorted((data / "pdfs").glob("*.pdf"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted((Path(__file__).parents[2] / "seeds").glob("*.txt"))]
    return texts


def test_words_are_tokenized_as_bm25s_tokenizes_them():
    import bm25s
    import bm25s.stopwords

    from index.bm25 import stopwords, tokenize
    from index.text import fold, stemmer

    assert stopwords() == frozenset(bm25s.stopwords.STOPWORDS_EN)
    texts = _texts()
    assert len(texts) > 3000
    theirs = bm25s.tokenize([fold(t) for t in texts], stopwords="en", stemmer=stemmer(), show_progress=False, return_ids=False)
    assert tokenize(texts) == theirs


def test_search_ranks_and_scores_as_bm25s_retrieve_does(tmp_path):
    """The main index searched from its saved arrays gives bm25s's own ids, order and scores, for
    every SQuAD question, with removed chunks masked out too; and a search imports neither."""
    import subprocess
    import sys

    import bm25s
    import numpy as np

    from index.bm25 import tokenize

    texts = _texts()
    paragraphs = [t for t in texts if not t.endswith("?")]
    questions = [t for t in texts if t.endswith("?")][:600]
    rows = [(f"c{i}", t) for i, t in enumerate(paragraphs)]
    index = Bm25Index(tmp_path / "bm25")
    index.build(rows, generation=1)
    theirs = bm25s.BM25.load(str(tmp_path / "bm25"))
    mask = np.ones(len(rows), dtype=np.float32)
    mask[::7] = 0.0
    for weights in (None, mask):
        index._mask = weights
        for q in questions:
            known = [t for t in tokenize([q])[0] if t in theirs.vocab_dict]
            if not known:
                continue
            docs, scores = theirs.retrieve([known], k=20, show_progress=False, n_threads=1, weight_mask=weights)
            want = [(f"c{int(d)}", float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
            assert index.search(q, 20) == want, q
    probe = ("import sys; from pathlib import Path; from index.bm25 import Bm25Index; b = Bm25Index(Path(sys.argv[1])); "
             "b.load(); assert b.search('In what country is Normandy located?', 5); "
             "print(sorted(m for m in ('bm25s', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "bm25")], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
