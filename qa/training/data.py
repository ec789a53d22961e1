"""Training data for the reader: SQuAD-style articles -> (question, window, answer span or none) examples."""
from __future__ import annotations

import gzip
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from index.errors import UsageError

MAX_TOKENS = 192  # question + window, as the reader reads a chunk at answering time
MAX_ANSWER_TOKENS = 30
WINDOW_WORDS = (40, 120)  # a window's size in words is drawn from this range: chunks are up to 120 words
DEFAULT_SHARED = Path(__file__).resolve().parents[3] / "shared" / "train"  # ../shared/train beside the project
HELD_OUT = {"Spectre_(2015_film)"}  # SQuAD 2.0 article whose real near misses are split between training and validation
TRAIN_PARAS = 21  # its first 21 paragraphs (92 unanswerable) are trained on, the other 22 (96) validate


@dataclass(frozen=True)
class Example:
    question: str
    context: str
    start: int | None  # answer characters in `context`, or None: nothing here answers
    end: int | None
    kind: str  # answer | retrieved | same-paragraph | swapped | antonym | negated | unanswerable


@dataclass
class Article:
    title: str
    paragraphs: list[dict]  # {"context", "qas": [{"question", "answers": [{"text", "answer_start"}], "is_impossible"?}]}


# -- data ---------------------------------------------------------------------------------------
def read_json(path: Path) -> object:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot be read as (gzipped) SQuAD JSON ({e}); give a SQuAD file or a .jsonl with --docs") from None


def load_squad(path: Path) -> list[Article]:
    data = read_json(path)
    if not (isinstance(data, dict) and isinstance(data.get("data"), list)):
        raise UsageError(f'{path}: not SQuAD JSON (no "data" list of articles)')
    return [Article(a.get("title", f"article {i}"), a["paragraphs"]) for i, a in enumerate(data["data"])]


def load_jsonl(path: Path, docs: Path) -> list[Article]:
    """Our eval JSONL (`{"question", "answers", "answerable", "source"}`) over a folder of documents ->
    one article per source document, its text read as the index reads it."""
    from index.load import load_document
    from qa.measure.evaluate import load_jsonl as parse

    if not docs.is_dir():
        raise UsageError(f"--docs {docs} is not a folder; give the folder the questions' sources are in")
    by_source: dict[str, list] = {}
    for ex in parse(path, docs):
        if ex.source is None:
            raise UsageError(f'{path.name}: a line without "source"; training needs the document each question is about')
        by_source.setdefault(ex.source, []).append(ex)
    articles = []
    for source, exs in by_source.items():
        text = load_document(Path(source), source).text
        qas = []
        for ex in exs:
            found = [(text.find(a), a) for a in ex.answers if text.find(a) >= 0]
            if ex.answerable and not found:
                continue  # an answer the text does not hold verbatim: nothing to point at
            qas.append({"question": ex.question, "is_impossible": not ex.answerable,
                        "answers": [{"text": a, "answer_start": i} for i, a in found]})
        articles.append(Article(Path(source).name, [{"context": text, "qas": qas}]))
    return articles


def load_data(paths: list[Path], docs: Path | None) -> list[Article]:
    out = []
    for p in paths:
        if not p.is_file():
            raise UsageError(f"--data {p}: no such file")
        if p.name.endswith(".jsonl") and docs is None:
            raise UsageError(f"--data {p}: a .jsonl of questions needs --docs FOLDER (the documents they are about)")
        out += load_jsonl(p, docs) if p.name.endswith(".jsonl") else load_squad(p)
    return out


def answer_span(context: str, answer: dict) -> tuple[int, int] | None:
    """Where an answer sits: at its `answer_start` when the text is there, else its first occurrence
    (COVID-QA's offsets are sometimes wrong)."""
    text, at = answer["text"].strip(), answer.get("answer_start", -1)
    if not text:
        return None
    if 0 <= at and context[at:at + len(text)] == text:
        return at, at + len(text)
    at = context.find(text)
    return (at, at + len(text)) if at >= 0 else None


def sentences(text: str) -> list[tuple[int, int]]:
    from index.split import split_sentences

    return [(s.start, s.end) for s in split_sentences(text)]


def window(spans: list[tuple[int, int]], around: int, words: int, rng: random.Random, text: str) -> tuple[int, int]:
    """A run of whole sentences holding sentence `around`, grown at random either way up to `words` words."""
    lo = hi = around
    count = len(text[spans[around][0]:spans[around][1]].split())
    while True:
        options = [d for d in (-1, 1) if 0 <= (lo - 1 if d < 0 else hi + 1) < len(spans)]
        if not options:
            break
        d = rng.choice(options)
        i = lo - 1 if d < 0 else hi + 1
        n = len(text[spans[i][0]:spans[i][1]].split())
        if count + n > words:
            break
        count += n
        lo, hi = min(lo, i), max(hi, i)
    return spans[lo][0], spans[hi][1]


_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w'’.-]*[\w](?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w'’.-]*[\w])*")
_NUMBER = re.compile(r"\b\d[\d,.]*\d\b|\b\d\b")


def entities(text: str) -> tuple[set[str], set[str]]:
    return set(_NAME.findall(text)), set(_NUMBER.findall(text))


def swap(question: str, paragraph: str, names: set[str], numbers: set[str], rng: random.Random) -> str | None:
    """The question with one of its names (or numbers) that the paragraph holds swapped for another
    of the same kind from the article that the paragraph does not hold, or None (pure but `rng`).
    "When did Beyoncé leave Destiny's Child?" -> "When did Kelly Rowland leave Destiny's Child?"."""
    low = paragraph.lower()
    q_names = [n for n in _NAME.findall(question) if n.lower() in low]
    q_numbers = [n for n in _NUMBER.findall(question) if n in paragraph]
    choices = [(n, "name") for n in q_names] + [(n, "number") for n in q_numbers]
    rng.shuffle(choices)
    for old, kind in choices:
        if kind == "name":
            words = {w.lower() for w in old.split()}
            pool = [n for n in names if "." not in n and n.lower() not in low and not words & {w.lower() for w in n.split()}
                    and len(n.split()) == len(old.split())]
        else:
            pool = [n for n in numbers if n not in paragraph and len(n) == len(old) and n != old]
        if pool:
            new = rng.choice(sorted(pool))
            return re.sub(rf"(?<![\w]){re.escape(old)}(?![\w])", new, question, count=1)
    return None


# SQuAD 2.0's writers turned a word into its opposite as often as they swapped a name (Rajpurkar et al., 2018)
_OPPOSITES = [("largest", "smallest"), ("biggest", "smallest"), ("highest", "lowest"), ("most", "least"),
              ("first", "last"), ("earliest", "latest"), ("longest", "shortest"), ("best", "worst"),
              ("larger", "smaller"), ("higher", "lower"), ("more", "fewer"), ("before", "after"),
              ("increase", "decrease"), ("increased", "decreased"), ("north", "south"), ("east", "west"),
              ("northern", "southern"), ("eastern", "western"), ("maximum", "minimum"), ("won", "lost"),
              ("win", "lose"), ("above", "below"), ("strongest", "weakest"), ("fastest", "slowest"),
              ("richest", "poorest"), ("oldest", "youngest"), ("upper", "lower"), ("public", "private"),
              ("legal", "illegal"), ("internal", "external"), ("import", "export"), ("imports", "exports"),
              ("positive", "negative"), ("major", "minor"), ("male", "female"), ("men", "women"),
              ("early", "late"), ("earlier", "later"), ("success", "failure"), ("successful", "unsuccessful"),
              ("accepted", "rejected"), ("allowed", "banned"), ("start", "end"), ("began", "ended")]
_OPPOSITE = {a: b for a, b in _OPPOSITES} | {b: a for a, b in _OPPOSITES}
_AUX = {"did": "didn't", "does": "doesn't", "do": "don't", "is": "isn't", "was": "wasn't", "were": "weren't",
        "are": "aren't", "has": "hasn't", "have": "haven't", "had": "hadn't", "can": "can't", "could": "couldn't",
        "would": "wouldn't", "will": "won't", "should": "shouldn't"}
_NEGATION = re.compile(r"\b(?:not|no|never|neither|nor|without|except|none)\b|n't\b", re.I)


def opposite(question: str, paragraph: str) -> str | None:
    """The question with one word turned into its opposite that the paragraph never uses, or None:
    "What is the largest city?" -> "What is the smallest city?" (pure)."""
    low = paragraph.lower()
    for m in re.finditer(r"[A-Za-z]+", question):
        new = _OPPOSITE.get(m.group().lower())
        if m.start() and m.group()[0].isupper():
            continue  # part of a name ("First Year of Studies")
        if new and not re.search(rf"\b{new}\b", low):
            new = new.capitalize() if m.group()[0].isupper() else new
            return question[:m.start()] + new + question[m.end():]
    return None


def negate(question: str, paragraph: str) -> str | None:
    """The question negated at its auxiliary ("When did X leave?" -> "When didn't X leave?") when the
    paragraph holds no negation that could answer it, or None (pure)."""
    aux = "|".join(_AUX)
    m = re.match(rf"\s*(?:what|who|whom|which|when|where|why|how)(?:\s+[\w-]+){{0,2}}?\s+({aux})\b", question, re.I)
    if not m or _NEGATION.search(paragraph):
        return None
    return question[:m.start(1)] + _AUX[m.group(1).lower()] + question[m.end(1):]


def build_examples(articles: list[Article], rng: random.Random, negatives: bool = True,
                   p_retrieved: float = 0.35, p_same: float = 0.2, p_swap: float = 0.3, p_opposite: float = 0.5,
                   p_negate: float = 0.15) -> list[Example]:
    """Every question's answer window, and (with `negatives`) windows where it has no answer: see the
    module's docstring. Real unanswerable questions are read against a window of their paragraph."""
    import bm25s

    from index.bm25 import tokenize
    from qa.progress import progress

    out: list[Example] = []
    for art in progress(articles, len(articles), "building examples", unit="articles", every=0.1, enabled=len(articles) > 20):
        paras = [p["context"] for p in art.paragraphs]
        spans = [sentences(t) for t in paras]
        names, numbers = set(), set()
        for t in paras:
            a, b = entities(t)
            names |= a
            numbers |= b
        retriever = None
        if negatives and len(paras) > 1:
            retriever = bm25s.BM25()
            retriever.index(tokenize(paras), show_progress=False)
        for pi, para in enumerate(art.paragraphs):
            text, sp = paras[pi], spans[pi]
            if not sp:
                continue
            for qa in para["qas"]:
                q = qa["question"].strip()
                size = rng.randint(*WINDOW_WORDS)
                if qa.get("is_impossible") or not qa.get("answers"):
                    # read against the sentence its writer made it nearly answerable by, when SQuAD 2.0 says which
                    near = [answer_span(text, a) for a in qa.get("plausible_answers", [])]
                    near_i = [i for i, (a, b) in enumerate(sp) for n in near if n and a <= n[0] < b]
                    ws, we = window(sp, near_i[0] if near_i else rng.randrange(len(sp)), size, rng, text)
                    out.append(Example(q, text[ws:we], None, None, "unanswerable"))
                    continue
                at = answer_span(text, qa["answers"][0])
                if at is None:
                    continue
                s_i = next((i for i, (a, b) in enumerate(sp) if a <= at[0] < b), None)
                if s_i is None:
                    continue
                ws, we = window(sp, s_i, size, rng, text)
                if at[1] > we:  # an answer over a sentence end: the window takes the next sentence too
                    we = next((b for a, b in sp if b >= at[1]), we)
                out.append(Example(q, text[ws:we], at[0] - ws, at[1] - ws, "answer"))
                if not negatives:
                    continue
                answer = qa["answers"][0]["text"].strip().lower()
                if retriever is not None and rng.random() < p_retrieved:
                    ids, _ = retriever.retrieve(tokenize([q]), k=min(3, len(paras)), show_progress=False)
                    other = next((int(j) for j in ids[0] if int(j) != pi and spans[int(j)]), None)
                    if other is not None:
                        o_text, o_sp = paras[other], spans[other]
                        ws2, we2 = window(o_sp, rng.randrange(len(o_sp)), size, rng, o_text)
                        if answer not in o_text[ws2:we2].lower():
                            out.append(Example(q, o_text[ws2:we2], None, None, "retrieved"))
                if rng.random() < p_same:
                    away = [i for i, (a, b) in enumerate(sp) if answer not in text[a:b].lower() and not (a <= at[0] < b)]
                    if away:
                        ws2, we2 = window(sp, rng.choice(away), rng.randint(20, 60), rng, text)
                        if answer not in text[ws2:we2].lower():
                            out.append(Example(q, text[ws2:we2], None, None, "same-paragraph"))
                if rng.random() < p_swap:
                    swapped = swap(q, text, names, numbers, rng)
                    if swapped:
                        out.append(Example(swapped, text[ws:we], None, None, "swapped"))
                if rng.random() < p_opposite:
                    turned = opposite(q, text)
                    if turned:
                        out.append(Example(turned, text[ws:we], None, None, "antonym"))
                if rng.random() < p_negate:
                    negated = negate(q, text)
                    if negated:
                        out.append(Example(negated, text[ws:we], None, None, "negated"))
    return out


def only(article: Article, impossible: bool) -> Article:
    """The article with only its unanswerable questions, or only its answerable ones (pure)."""
    return Article(article.title, [{"context": p["context"], "qas": [q for q in p["qas"] if bool(q.get("is_impossible")) == impossible]}
                                   for p in article.paragraphs])


def held_out(articles: list[Article]) -> list[Article]:
    """The part of the held-out SQuAD 2.0 article that is never trained on: its last paragraphs (pure)."""
    return [Article(a.title, a.paragraphs[TRAIN_PARAS:]) for a in articles if a.title in HELD_OUT]


def default_data(root: Path) -> tuple[list[Article], list[Article]]:
    """The shipped reader's data in `root` (shared/train): training articles and validation articles."""
    sq1 = [a for a in load_squad(root / "squad1.1-train.json.gz") if a.title not in HELD_OUT]
    sq2 = load_squad(root / "squad2-train-first10.json.gz")
    # SQuAD 2.0's answerable questions are SQuAD 1.1's: only its unanswerable ones are new
    unans = [only(a, impossible=True) for a in sq2 if a.title not in HELD_OUT]
    tydi = load_squad(root / "tydiqa-goldp-en-train.json.gz")
    tydi = [Article("tydi", [p for a in tydi for p in a.paragraphs])]  # one passage each: pool them for negatives
    covid = load_squad(root / "covidqa-200423.json.gz")
    # real near misses are few, so half of the held-out article's are trained on too; its other half validates
    half = [Article(a.title, a.paragraphs[:TRAIN_PARAS]) for a in sq2 if a.title in HELD_OUT]
    unans += [only(a, impossible=True) for a in half]
    val = load_squad(root / "squad1.1-dev-extra13.json.gz") + held_out(sq2)
    return sq1 + [only(a, impossible=False) for a in half] + unans * 3 + tydi + covid, val  # the few real unanswerables, three times


# -- model --------------------------------------------------------------------------------------
