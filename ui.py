"""The chat UI: a thin Gradio adapter over `qa` and `index`. No retrieval or prompt logic here.

`build_demo(settings)` returns a `gr.Blocks`; only `main()` launches it, bound to 127.0.0.1
unless told otherwise (and then only with a password). Nothing on the page or the server
reaches outside the machine: analytics off, system fonts, no share link.
"""

import ipaddress
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import qa  # noqa: F401  (sets GRADIO_ANALYTICS_ENABLED=False etc. before gradio is imported)
from qa.errors import QAError, UsageError
from qa.settings import Settings, load_settings

CSS = """
.qa-passage-head { font-weight: 600; margin-bottom: .4em; word-break: break-all; }
.qa-passage-text, .qa-document { white-space: pre-wrap; line-height: 1.5; overflow-wrap: anywhere; }
.qa-document { max-height: 60vh; overflow-y: auto; border: 1px solid var(--border-color-primary); padding: .6em; }
.qa-passage mark, .qa-document mark { background: #ffe066; color: #000; padding: 0 .1em; }
.qa-note { color: var(--body-text-color-subdued); font-size: .9em; }
#qa-chips .wrap { gap: .3em; flex-wrap: wrap; }
#qa-chips label { border-radius: 999px; padding: .15em .7em; font-size: .9em; }
#qa-answerer { font-size: .9em; }
.gradio-container { max-width: 100% !important; overflow-x: hidden; }
#qa-chatbot .message-wrap { overflow-wrap: anywhere; }
"""
BUSY = "The assistant is busy; try again in a moment."


def check_bind(host: str, auth: str | None) -> None:
    """Refuse to serve beyond this machine without a password (pure)."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not auth:
        raise UsageError(f"refusing to serve on {host} without a password: set QA_AUTH=user:password, or bind 127.0.0.1")
    if auth and ":" not in auth:
        raise UsageError("QA_AUTH must be user:password")


class Busy(Exception):
    pass


class Gate:
    """At most `active` answers computed at once and `waiting` more queued; beyond that a request
    is told at once that the assistant is busy, and the app stays responsive."""

    def __init__(self, active: int, waiting: int):
        self._slots = threading.BoundedSemaphore(active)
        self._lock = threading.Lock()
        self._waiting = 0
        self.max_waiting = waiting

    @contextmanager
    def enter(self):
        with self._lock:
            if self._waiting >= self.max_waiting:
                raise Busy
            self._waiting += 1
        self._slots.acquire()
        with self._lock:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()


class App:
    """Per-process state shared by sessions: the store and the chains built from it."""

    def __init__(self, settings: Settings):
        from index.store import open_store

        self.settings = settings
        self.store = open_store(settings)
        self._chains: dict[tuple, object] = {}
        self.gate = Gate(settings.concurrency, settings.queue_size)
        self.store.embeddings.embed_query("warm up")  # load the model now, not on the first question
        self.store.refresh_bm25()

    def chain(self, answerer: str, base_url: str | None, top_k: int):
        from qa.chain import build_chain

        key = (answerer, base_url, int(top_k))
        if key not in self._chains:
            s = self.settings.model_copy(update={"answerer": answerer, "openai_base_url": base_url or self.settings.openai_base_url,
                                                 "ollama_base_url": base_url or self.settings.ollama_base_url, "top_k": int(top_k)})
            self._chains[key] = build_chain(s, store=self.store)
        return self._chains[key]


def _library_rows(app: App) -> list[list]:
    return [[r["source"], r["n_chunks"], r["date"] or ""] for r in app.store.manifest.files()]


def message_text(content) -> str:
    """A chat message's text: Gradio sends content back as a string or as a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if isinstance(content, (list, tuple)):
        return " ".join(message_text(part) for part in content).strip()
    return ""


def _answerer_name(kind: str, model: str) -> str:
    return "extractive" if kind == "extractive" else f"{kind}:{model.strip()}"


def build_demo(settings: Settings, app: App | None = None):
    import gradio as gr

    from index.indexer import index_paths, remove_document
    from index.uploads import save_upload
    from qa.render import chat_markdown, citation_label, document_html, export_markdown, passage_panel_html

    app = app or App(settings)

    def active_label(kind, model, base_url):
        name = _answerer_name(kind, model)
        where = f" at {base_url}" if kind != "extractive" and base_url else ""
        return f"**Answerer:** `{name}`{where} · offline extractive quotes" if kind == "extractive" else f"**Answerer:** `{name}`{where}"

    def chips_update(answer: dict | None):
        cites = (answer or {}).get("citations", [])
        return gr.update(choices=[(citation_label(c), str(c["n"])) for c in cites], value=None, visible=bool(cites))

    def inspector_md(answer: dict | None) -> str:
        if not answer:
            return "Ask a question to see what was retrieved."
        cited = {c["passage_id"] for c in answer.get("citations", [])}
        rows = ["| # | source | dense (rank) | BM25 (rank) | fused (rank) | best sentence | reader | cited |", "|---|---|---|---|---|---|---|---|"]
        for i, p in enumerate(answer.get("passages", []), start=1):
            d = f"{p['dense_score']:.3f} ({p['dense_rank']})" if p["dense_score"] is not None else "–"
            b = f"{p['bm25_score']:.2f} ({p['bm25_rank']})" if p["bm25_score"] is not None else "–"
            f = f"{p['fused_score']:.4f} ({p['fused_rank']})" if p.get("fused_rank") else f"{p['fused_score']:.4f}"
            sent = f"{p['sentence_score']:.3f}" if p.get("sentence_score") is not None else "–"
            reader = f"{p['reader_score']:.3f}" if p.get("reader_score") is not None else "–"
            rows.append(f"| {i} | {Path(p['source']).name} {p['start']}-{p['end']} | {d} | {b} | {f} | {sent} | {reader} | {'✓' if p['id'] in cited else ''} |")
        head = f"**Query used:** {answer.get('query', '')}"
        if answer.get("confidence") is not None:  # the reader's: how likely any passage answers, against its threshold
            head += f" · **reader confidence:** {answer['confidence']:.3f}"
        return head + "\n\n" + "\n".join(rows)

    def respond(message, chat, answers, kind, model, base_url, top_k):
        from dataclasses import asdict

        chat = list(chat or [])
        history = [message_text(m["content"]) for m in chat if m["role"] == "user"]
        chat += [{"role": "user", "content": message or ""}, {"role": "assistant", "content": "…"}]
        yield chat, answers, gr.update(), gr.update(), gr.update(), ""
        try:
            chain = app.chain(_answerer_name(kind, model), base_url, top_k)
            final = None
            with app.gate.enter():
                for final in chain.stream({"question": message or "", "history": history}):
                    chat[-1] = {"role": "assistant", "content": chat_markdown(final, final=False)}
                    yield chat, answers, gr.update(), gr.update(), gr.update(), ""
        except Busy:
            chat[-1] = {"role": "assistant", "content": f"⏳ {BUSY}"}
            yield chat, answers, gr.update(), gr.update(), gr.update(), ""
            return
        except Exception as e:  # a backend down, a bad setting: said in the chat, the app stays up
            chat[-1] = {"role": "assistant", "content": f"⚠️ {e if isinstance(e, QAError) else f'Something went wrong: {type(e).__name__}: {e}'}"}
            yield chat, answers, gr.update(), gr.update(), gr.update(), ""
            return
        chat[-1] = {"role": "assistant", "content": chat_markdown(final)}
        record = final.to_dict() | {"passages": [asdict(p) for p in final.passages], "question": message}
        answers = dict(answers or {}) | {str(len(chat) - 1): record}
        first = record["citations"][0] if record["citations"] else None
        panel = passage_panel_html(first, app.store.document_text(first["source"])) if first else ""
        yield chat, answers, chips_update(record), panel, inspector_md(record), str(len(chat) - 1)

    def select_message(answers, evt: gr.SelectData):
        key = str(evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index)
        record = (answers or {}).get(key)
        return chips_update(record), inspector_md(record), key if record else ""

    def show_citation(n, answers, key):
        record = (answers or {}).get(key or "")
        c = next((c for c in (record or {}).get("citations", []) if str(c["n"]) == str(n)), None)
        if c is None:
            return gr.update(), gr.update(visible=False)
        return passage_panel_html(c, app.store.document_text(c["source"])), gr.update(visible=True)

    def open_document(n, answers, key):
        record = (answers or {}).get(key or "")
        cites = (record or {}).get("citations", [])
        c = next((c for c in cites if str(c["n"]) == str(n)), cites[0] if cites else None)
        text = app.store.document_text(c["source"]) if c else None
        if c is None or text is None:
            return gr.update(value="", visible=False)
        return gr.update(value=document_html(c, text), visible=True)

    def add_files(files, progress=gr.Progress()):
        """Save and index each upload, reporting each file's outcome as it goes."""
        rows, paths = [], []
        def library_update():
            rows_now = _library_rows(app)
            return rows_now, gr.update(choices=[r[0] for r in rows_now])

        for f in files or []:
            original = getattr(f, "orig_name", None) or Path(str(f)).name
            try:
                paths.append((original, save_upload(str(f), original, app.settings.data_dir)))
            except QAError as e:
                rows.append([original, f"skipped: {e}"])
        for i, (original, path) in enumerate(paths):
            progress((i, len(paths)), desc=f"indexing {original}")
            rows.append([original, "indexing…"])
            yield rows, gr.update(), gr.update()
            try:
                report = index_paths([path], app.settings, store=app.store, progress=False)
                if report.failed:
                    rows[-1] = [original, f"skipped: {report.failed[0]['error']}"]
                elif report.files_indexed:
                    rows[-1] = [original, f"indexed ({report.added} new chunks)"]
                else:
                    rows[-1] = [original, "unchanged"]
            except QAError as e:
                rows[-1] = [original, f"skipped: {e}"]
            yield rows, *library_update()
        yield rows, *library_update()

    def remove_doc(source):
        if not source:
            raise gr.Error("Pick a document to remove.")
        try:
            n = remove_document(source, app.settings, store=app.store)
        except QAError as e:
            raise gr.Error(str(e)) from None
        gr.Info(f"Removed {Path(source).name} ({n} chunks).")
        rows = _library_rows(app)
        return rows, gr.update(choices=[r[0] for r in rows], value=None)

    def export(answers):
        turns = [(a.get("question", ""), a) for _, a in sorted((answers or {}).items(), key=lambda kv: int(kv[0]))]
        path = Path(tempfile.mkdtemp(prefix="qa-export-")) / "conversation.md"
        path.write_text(export_markdown(turns), encoding="utf-8")
        return gr.update(value=str(path), visible=True)

    def ask_api(question: str, history: list[str] | None = None) -> dict:
        """One question, one JSON answer (the `qa ask --json` shape): for scripts and load tests."""
        from qa.chain import ask

        try:
            s = app.settings
            with app.gate.enter():
                return ask(app.chain(s.answerer, None, s.top_k), question, history or []).to_dict()
        except Busy:
            return {"answer": BUSY, "abstained": True, "citations": [], "nearest": [], "busy": True}
        except QAError as e:
            return {"answer": str(e), "abstained": True, "citations": [], "nearest": [], "error": True}

    with gr.Blocks(title="Ask your documents", analytics_enabled=False, fill_width=True) as demo:
        answers = gr.State({})
        asked = gr.Textbox(visible=False)  # the question in flight: the box is free for the next one at once
        active = gr.State("")
        kind0, _, model0 = settings.answerer.partition(":")
        with gr.Row():
            gr.Markdown("## Ask your documents\nAnswers come only from your indexed documents; every claim links to its source.")
            answerer_md = gr.Markdown(active_label(kind0, model0, settings.openai_base_url), elem_id="qa-answerer")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                chatbot = gr.Chatbot(elem_id="qa-chatbot", height=480, buttons=["copy"], feedback_options=None,
                                     placeholder="Ask a question about your documents.", sanitize_html=True)
                with gr.Row():
                    box = gr.Textbox(placeholder="Ask a question…", show_label=False, scale=5, min_width=200, submit_btn=True)
                chips = gr.Radio(label="Citations (click to see the passage)", choices=[], visible=False, elem_id="qa-chips")
                with gr.Row():
                    clear = gr.Button("Clear conversation", size="sm")
                    export_btn = gr.Button("Export as Markdown", size="sm")
                export_file = gr.File(label="Conversation", visible=False, interactive=False)
                with gr.Accordion("Retrieval inspector", open=False):
                    inspector = gr.Markdown("Ask a question to see what was retrieved.", elem_id="qa-inspector")
            with gr.Column(scale=2, min_width=280):
                gr.Markdown("### Cited passage")
                panel = gr.HTML("<p class='qa-note'>Click a citation to see the passage, highlighted.</p>", elem_id="qa-panel")
                open_doc = gr.Button("Open the whole document at this place", size="sm", visible=False)
                whole = gr.HTML(visible=False, elem_id="qa-whole")
                with gr.Accordion("Add documents", open=False):
                    upload = gr.File(file_count="multiple", file_types=[".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"],
                                     label="Drop files here", elem_id="qa-upload")
                    upload_status = gr.Dataframe(headers=["file", "status"], interactive=False, wrap=True, column_widths=["35%", "65%"], elem_id="qa-upload-status")
                with gr.Accordion("Library", open=False):
                    library = gr.Dataframe(value=_library_rows(app), headers=["document", "chunks", "date"], interactive=False, wrap=True, elem_id="qa-library")
                    with gr.Row():
                        to_remove = gr.Dropdown(choices=[r[0] for r in _library_rows(app)], label="Document", scale=3)
                        remove_btn = gr.Button("Remove", size="sm", variant="stop", scale=1)
                with gr.Accordion("Settings", open=False):
                    kind = gr.Radio(["extractive", "ollama", "openai"], value=kind0 if kind0 in ("ollama", "openai") else "extractive", label="Answerer")
                    model = gr.Textbox(value=model0, label="Model (Ollama / OpenAI-compatible)")
                    base_url = gr.Textbox(value=settings.openai_base_url or settings.ollama_base_url or "", label="Base URL")
                    top_k = gr.Slider(1, 20, value=settings.top_k, step=1, label="Passages retrieved (top-k)")

        outputs = [chatbot, answers, chips, panel, inspector, active]
        box.submit(lambda q: ("", q), [box], [box, asked], queue=False, api_visibility="private").then(
            respond, [asked, chatbot, answers, kind, model, base_url, top_k], outputs, api_name="chat", concurrency_limit=None)
        chatbot.select(select_message, [answers], [chips, inspector, active])
        chips.select(show_citation, [chips, answers, active], [panel, open_doc]).then(lambda: gr.update(visible=False), None, whole)
        open_doc.click(open_document, [chips, answers, active], [whole],
                       js="(...a) => { setTimeout(() => document.querySelector('#qa-whole mark')?.scrollIntoView({block: 'center'}), 400); return a; }")
        clear.click(lambda: ([], {}, gr.update(choices=[], visible=False), "", "Ask a question to see what was retrieved.", ""),
                    None, outputs)
        export_btn.click(export, [answers], [export_file], api_name="export")
        upload.upload(add_files, [upload], [upload_status, library, to_remove])
        remove_btn.click(remove_doc, [to_remove], [library, to_remove], api_name="remove")
        for c in (kind, model, base_url):
            c.change(active_label, [kind, model, base_url], [answerer_md])
        gr.api(ask_api, api_name="ask", concurrency_limit=None)
    # The Gate above decides who waits and who is told "busy"; Gradio's own queue is a backstop.
    demo.queue(max_size=4 * settings.queue_size, default_concurrency_limit=2)
    return demo


def main(settings: Settings | None = None, open_browser: bool = False, block: bool = True):
    try:
        settings = settings or load_settings()
        check_bind(settings.host, settings.auth)
        demo = build_demo(settings)
    except QAError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(e.exit_code) from None
    auth = tuple(settings.auth.split(":", 1)) if settings.auth else None
    try:
        _launch(demo, settings, auth, open_browser, block)
        return demo
    except OSError as e:
        print(f"error: cannot serve on {settings.host}:{settings.port} ({e.strerror or 'port in use'}); "
              "pick another port with --port or QA_PORT", file=sys.stderr)
        raise SystemExit(2) from None


def _theme():
    """Gradio's default theme with system fonts: the stock one fetches fonts from a remote host."""
    import gradio as gr

    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def _launch(demo, settings: Settings, auth, open_browser: bool, block: bool):
    return demo.launch(
        server_name=settings.host, server_port=settings.port, share=False, inbrowser=open_browser, auth=auth,
        max_file_size=f"{settings.max_file_mb}mb", blocked_paths=[str(settings.data_dir.resolve())],
        theme=_theme(), css=CSS, footer_links=[], prevent_thread_lock=not block,
        show_error=False, quiet=not block,
    )


if __name__ == "__main__":
    main()
