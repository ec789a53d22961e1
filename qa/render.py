"""Rendering an Answer for people: terminal text, chat markdown, highlighted passages, export.

Pure functions. Text that comes from documents is always escaped, so a passage holding
`<script>` or a markdown image link to a remote host shows as the characters it is and runs or
fetches nothing.
"""
from __future__ import annotations

import html
import re
from pathlib import PurePath

from index.text import as_prose, one_line
from qa.schema import Answer, Citation

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~&])")
_LIST_START = re.compile(r"^(\d+)([.)])|^([-+])")
CLOSEST = "Closest passages"  # what an abstention shows instead of citations, in the UI and the CLI alike


def md_escape(text: str) -> str:
    """Make text inert in markdown: every markdown/HTML-special character backslash-escaped,
    and newlines flattened (a quote is one paragraph)."""
    flat = _MD_SPECIAL.sub(r"\\\1", one_line(text))
    # "-", "+" or "1." would start a list only at the beginning of the text.
    return _LIST_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}" if m.group(1) else f"\\{m.group(3)}", flat)


def citation_label(c: Citation, full_path: bool = False, numbered: bool = True) -> str:
    name = c.source if full_path else PurePath(c.source).name
    extras = [f"p. {c.page}" if c.page else None, f"§{c.section}" if c.section else None, c.date]
    return (f"[{c.n}] " if numbered else "") + name + "".join(f" · {e}" for e in extras if e)


def source_lines(citations: list[Citation]) -> list[str]:
    """One label a citation, each telling it apart from the others (pure): file (or title), page,
    section, date, and where two would read the same, the first words of its quote."""
    labels = [citation_label(c, numbered=False) for c in citations]
    out = []
    for c, label in zip(citations, labels):
        if labels.count(label) > 1:
            words = as_prose(c.quote).split()
            label += f" · “{' '.join(words[:6])}{'…' if len(words) > 6 else ''}”"
        out.append(label)
    return out


def _linked_markers(text: str) -> str:
    """Escaped answer text with each `[n]` marker a link the UI opens the passage from."""
    return re.sub(r"\\\[(\d+)\\\]", r"[\\[\1\\]](#cite-\1)", text)


def unmatched_note(answer: Answer) -> str | None:
    """What to say of the question's names that no document has, and of its words that no document
    has but that look misspelt (a retrieved word is spelt nearly so), or None (pure)."""
    names, fixes = answer.unmatched or [], answer.suggestions or {}
    notes = []
    if names:
        said = " or ".join(f"“{n}”" for n in names)
        notes.append(f"No indexed document mentions {said}." if answer.abstained else
                     f"No indexed document mentions {said}: the passages cited are the closest matches, not about it.")
    if others := [w for w in fixes if w not in names]:
        notes.append(f"No indexed document has {' or '.join(f'“{w}”' for w in others)}.")
    if fixes:
        notes.append(f"Did you mean {', '.join(f'“{f}”' for f in fixes.values())}?")
    return " ".join(notes) or None


def unsupported_note(answer: Answer) -> str | None:
    """What the reader is told about a generated answer's sentences that the check did not pass
    (each is marked in the text), or None when there are none."""
    n = len(answer.unsupported)
    if not n:
        return None
    if not answer.citations:
        return "Nothing in this answer is supported by the documents: every sentence is marked."
    if n == 1:
        return "1 sentence is not supported by the documents: it is marked and not cited."
    return f"{n} sentences are not supported by the documents: they are marked and not cited."


def with_span(answer: Answer, text: str, escape=lambda t: t) -> str:
    """`text` (the answer, escaped by `escape`) with the reader's answer span in **bold** (pure):
    the span's first occurrence in the sentence that holds it."""
    span = answer.span
    if span is None:
        return text
    marker = f"[{span.n}]"
    shown = escape(as_prose(span.text))
    end = text.find(escape(marker)) if escape(marker) in text else len(text)
    # the sentence holding the span ends at its marker; it starts after the marker before it
    begin = text.rfind(escape(f"[{span.n - 1}]"), 0, end) if span.n > 1 else 0
    at = text.find(shown, max(begin, 0), end)
    if not shown.strip() or at < 0:
        return text
    return f"{text[:at]}**{shown}**{text[at + len(shown):]}"


def cli_text(answer: Answer) -> str:
    lines = [with_span(answer, answer.text)]
    if note := unmatched_note(answer):  # read before the answer it qualifies, as in the UI
        lines.insert(0, f"Note: {note}")
    if note := unsupported_note(answer):
        lines.append(f"Note: {note}")
    if answer.citations:
        lines.append("")
        for c in answer.citations:
            lines.append(f"{citation_label(c, full_path=True)}, chars {c.start}-{c.end}: \"{one_line(c.quote)}\"")
    if answer.abstained and answer.nearest:
        lines += ["", f"{CLOSEST} (not citations):"]
        lines += [f"  - {c.source}: \"{one_line(c.quote)[:160]}\"" for c in answer.nearest]
    return "\n".join(lines)


def chat_markdown(answer: Answer, final: bool = True) -> str:
    """An answer as a chat message: the answer with its `[n]` markers as links, then one line a
    source (the quotes are the answer: they are not repeated). An abstention is one sentence, the
    closest passages folded away under their titles."""
    if answer.abstained and (answer.nearest or answer.text.startswith("I could not find")):
        parts = [md_escape(answer.text)]
        if note := unmatched_note(answer):
            parts[0] += f" {md_escape(note)}"
        if answer.nearest:
            titles = ", ".join(dict.fromkeys(PurePath(c.source).name for c in answer.nearest))
            body = "".join(f"<p><b>{html.escape(PurePath(c.source).name)}</b>: {html.escape(one_line(c.quote))}</p>"
                           for c in answer.nearest)
            parts.append(f"<details class='qa-closest'><summary>{CLOSEST} (not citations): {html.escape(titles)}</summary>{body}</details>")
        return "\n\n".join(parts)
    text = with_span(answer, md_escape(answer.text), md_escape)
    parts = [_linked_markers(text) if final else text]
    if note := unmatched_note(answer):  # read before the answer it qualifies
        parts.insert(0, f"⚠️ {md_escape(note)}")
    if note := unsupported_note(answer):
        parts.append(f"⚠️ {note}")
    if final and answer.citations:
        parts.append("  \n".join(f"[\\[{c.n}\\]](#cite-{c.n}) {md_escape(label)}"
                                 for c, label in zip(answer.citations, source_lines(answer.citations))))
    return "\n\n".join(parts)


def highlight_html(text: str, start: int, end: int, context: int | None = 400, mark_id: str = "cite-mark") -> str:
    """The span `text[start:end]` in a <mark>, with `context` characters either side (None: all).
    A leading `date YYYY-MM-DD` line is metadata, not text, and is left out."""
    from index.load import parse_date_prefix

    floor = parse_date_prefix(text)[1] if start >= parse_date_prefix(text)[1] else 0
    lo = floor if context is None else max(floor, start - context)
    hi = len(text) if context is None else min(len(text), end + context)
    before, quote, after = text[lo:start], text[start:end], text[end:hi]
    return (
        ("…" if lo > floor else "") + html.escape(before)
        + f'<mark id="{mark_id}">' + html.escape(quote) + "</mark>"
        + html.escape(after) + ("…" if hi < len(text) else "")
    )


def passage_panel_html(c: Citation, text: str | None) -> str:
    head = html.escape(citation_label(c))  # the file's name, as a person knows it; no internal path
    if text is None or text[c.start : c.end] != c.quote:
        body = f'<mark id="cite-mark">{html.escape(c.quote)}</mark>'
        note = '<p class="qa-note">The document changed since it was indexed; showing the quote as indexed.</p>'
    else:
        body, note = highlight_html(text, c.start, c.end), ""
    return (f'<div class="qa-passage"><div class="qa-passage-head">{head}</div>{note}'
            f'<div class="qa-passage-text">{body}</div></div>')


def document_html(c: Citation, text: str) -> str:
    return f'<div class="qa-document">{highlight_html(text, c.start, c.end, context=None)}</div>'


def export_markdown(turns: list[tuple[str, Answer]]) -> str:
    """A conversation as Markdown, each answer followed by its citations."""
    out = ["# Conversation", ""]
    for question, ans in turns:
        text = ans.text
        if ans.span and as_prose(ans.span.text) in text:  # the reader's answer, in bold as in the chat
            shown = as_prose(ans.span.text)
            text = text.replace(shown, f"**{shown}**", 1)
        out += [f"**Q:** {question}", "", f"**A:** {text}", ""]
        if note := unmatched_note(ans):
            out += [f"*{note}*", ""]
        for c in ans.citations:
            out.append(f"- {citation_label(c, full_path=True)} (chars {c.start}-{c.end}): “{one_line(c.quote)}”")
        out.append("")
    return "\n".join(out)


def inspector_md(answer: Answer | None) -> str:
    """The retrieval inspector: each passage read, with every score and rank, and which were cited."""
    if answer is None:
        return "Ask a question to see what was retrieved."
    cited = {c.passage_id for c in answer.citations}
    rows = ["| # | source | dense (rank) | BM25 (rank) | fused (rank) | best sentence | reader | cited |", "|---|---|---|---|---|---|---|---|"]
    for i, p in enumerate(answer.passages, start=1):
        d = f"{p.dense_score:.3f} ({p.dense_rank})" if p.dense_score is not None else "–"
        b = f"{p.bm25_score:.2f} ({p.bm25_rank})" if p.bm25_score is not None else "–"
        f = f"{p.fused_score:.4f} ({p.fused_rank})" if p.fused_rank else f"{p.fused_score:.4f}"
        sent = f"{p.sentence_score:.3f}" if p.sentence_score is not None else "–"
        # with a reader, a passage without its score was left unread: an earlier one answered surely
        reader = f"{p.reader_score:.3f}" if p.reader_score is not None else "not read" if answer.confidence is not None else "–"
        rows.append(f"| {i} | {PurePath(p.source).name} {p.start}-{p.end} | {d} | {b} | {f} | {sent} | {reader} | {'✓' if p.id in cited else ''} |")
    head = f"**Query used:** {answer.query}"
    if answer.confidence is not None:  # the answerer's: how likely the passages answer (qa/reader.py, Abstention), against its threshold
        head += f" · **reader confidence:** {answer.confidence:.3f}"
    return head + "\n\n" + "\n".join(rows)


def answerer_label(name: str, base_url: str | None = None) -> str:
    """The page header's line: the answerer that answers now."""
    if name == "extractive":
        return f"**Answerer:** `{name}` · offline extractive quotes"
    return f"**Answerer:** `{name}`" + (f" at {base_url}" if base_url else "")


# -- the page's look and its one script (ui.py) ------------------------------------------------
CSS = """
.qa-passage-head { font-weight: 600; margin-bottom: .4em; word-break: break-all; }
.qa-passage-text, .qa-document { white-space: pre-wrap; line-height: 1.5; overflow-wrap: anywhere; }
.qa-document { max-height: 60vh; overflow-y: auto; border: 1px solid var(--border-color-primary); padding: .6em; }
.qa-passage mark, .qa-document mark { background: #ffe066; color: #000; padding: 0 .1em; }
.qa-note { color: var(--body-text-color-subdued); font-size: .9em; }
#qa-answerer { font-size: .9em; }
.gradio-container { max-width: 100% !important; overflow-x: hidden; }
#qa-chatbot .message-wrap { overflow-wrap: anywhere; }
#qa-chatbot a[href^="#cite-"] { text-decoration: none; font-weight: 600; }
.qa-closest summary { cursor: pointer; color: var(--body-text-color-subdued); }
.qa-hidden { display: none !important; }
#qa-inspector table { display: block; overflow-x: auto; white-space: nowrap; }
#qa-library th, #qa-library th *, #qa-upload-status th, #qa-upload-status th * {
  white-space: nowrap !important; word-break: keep-all !important; overflow-wrap: normal !important; }
@media (max-width: 700px) {  /* a phone: the chat, its answer and the cited passage first, then the rest */
  #qa-main { flex-direction: column !important; }
  #qa-main > div { display: contents !important; }
  #qa-main > div > * { order: 3; min-width: 0 !important; width: 100% !important; }
  #qa-main > div > .qa-first { order: 1; }
  #qa-main > div > .qa-second { order: 2; }
}
"""
# A click on an answer's [n] marker or source line opens that passage: the page tells the server
# which message and which citation, through a hidden box and button.
CLICK_JS = """
() => {
  document.addEventListener('click', (e) => {
    const a = e.target.closest('#qa-chatbot a[href^="#cite-"]');
    if (!a) return;
    e.preventDefault(); e.stopPropagation();
    const msgs = [...document.querySelectorAll('#qa-chatbot [data-testid=user], #qa-chatbot [data-testid=bot]')];
    const i = msgs.findIndex((m) => m.contains(a));
    const box = document.querySelector('#qa-pick textarea, #qa-pick input');
    box.value = `${i}:${a.getAttribute('href').slice(6)}:${Date.now()}`;
    box.dispatchEvent(new Event('input', {bubbles: true}));
    setTimeout(() => document.querySelector('#qa-pick-go').click(), 50);
  }, true);
}
"""
