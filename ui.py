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

from index.errors import QAError, UsageError
from index.settings import Settings, load_settings, offline_environment
from qa.render import CLICK_JS, CSS
from qa.schema import Citation

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


def document_names(sources: list[str]) -> dict[str, str]:
    """What a person calls each indexed document: its file name, with its folder where two share
    a name (pure). Internal paths (the data folder's uploads/) are never shown."""
    names = {s: Path(s).name for s in sources}
    taken = [n for n in names.values()]
    return {s: n if taken.count(n) == 1 else f"{n} ({Path(s).parent.name})" for s, n in names.items()}


def _library(app: App) -> tuple[list[list], list[tuple[str, str]]]:
    """The Library table (name, chunks, date) and the Remove list's (name, source) choices, as the
    index holds them now."""
    files = app.store.files()
    names = document_names([r["source"] for r in files])
    rows = [[names[r["source"]], r["n_chunks"], r["date"] or ""] for r in files]
    return rows, [(names[r["source"]], r["source"]) for r in files]


def chunks_word(n: int) -> str:
    return f"{n} chunk" if n == 1 else f"{n} chunks"


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
    return "extractive" if kind == "extractive" else f"{kind}:{(model or '').strip()}"


def active_label(answerer: dict) -> str:
    """The header's line for an answerer choice ({kind, model, base_url})."""
    from qa.render import answerer_label

    name = _answerer_name(answerer["kind"], answerer["model"])
    return answerer_label(name, None if answerer["kind"] == "extractive" else answerer.get("base_url"))


def try_answerer(kind: str, model: str, base_url: str, current: dict) -> tuple[dict, str, list[str]]:
    """A Settings choice checked before it is used: (the answerer that answers now, a one-line
    result, the models its server offers). A choice that cannot work is refused and the working
    answerer stays."""
    from qa.llm import available_models

    if kind == "extractive":
        return {"kind": "extractive", "model": "", "base_url": ""}, "Answering with the offline extractive answerer.", []
    keep = f"Still answering with {_answerer_name(current['kind'], current['model'])}."
    try:
        models = available_models(kind, base_url or None)
    except QAError as e:
        return current, f"Not switched: {e}. {keep}", []
    model = (model or "").strip()
    if not model:
        offer = f" It offers: {', '.join(models[:8])}." if models else " It offers no models yet."
        return current, f"Not switched: choose a model first.{offer} {keep}", models
    if models and model not in models and f"{model}:latest" not in models:
        return current, f"Not switched: {kind} at {base_url or 'its default address'} has no model {model!r}. {keep}", models
    chosen = {"kind": kind, "model": model, "base_url": (base_url or "").strip()}
    return chosen, f"Answering with {_answerer_name(kind, model)}.", models


def picked_citation(answers: dict | None, pick: str) -> tuple[str, Citation | None]:
    """`pick` ("message:n:nonce", from a click on a marker) -> (the message's key, its citation n).
    `answers` maps a chat message's index to (the question, its Answer)."""
    key, _, rest = (pick or "").partition(":")
    n = rest.partition(":")[0]
    _, answer = (answers or {}).get(key) or (None, None)
    return key, next((c for c in (answer.citations if answer else []) if str(c.n) == n), None)


PANEL_HINT = "<p class='qa-note'>Click a citation [n] to see the passage, highlighted.</p>"
INSPECTOR_HINT = "Ask a question to see what was retrieved."


class Handlers:
    """The page's event handlers, one method an event, over `Answer` objects kept per message
    (`answers`: message index -> (question, Answer)). Rendering is qa/render.py's."""

    def __init__(self, app: App):
        import gradio as gr

        self.app, self.gr = app, gr

    def panel_for(self, c: Citation | None):
        """The passage panel, its "open the whole document" button, and the whole-document pane
        (closed, so it never shows another citation's document)."""
        from qa.render import passage_panel_html

        gr = self.gr
        if c is None:
            return PANEL_HINT, gr.update(visible=False), gr.update(value="", visible=False)
        return passage_panel_html(c, self.app.store.document_text(c.source)), gr.update(visible=True), gr.update(value="", visible=False)

    def respond(self, message, chat, answers, answerer, top_k):
        from qa.render import chat_markdown, inspector_md

        gr, app = self.gr, self.app
        chat = list(chat or [])
        history = [message_text(m["content"]) for m in chat if m["role"] == "user"]
        chat += [{"role": "user", "content": message or ""}, {"role": "assistant", "content": "…"}]
        same = (gr.update(),) * 5
        yield chat, answers, *same
        try:
            chain = app.chain(_answerer_name(answerer["kind"], answerer["model"]), answerer.get("base_url"), top_k)
            final = None
            with app.gate.enter():
                for final in chain.stream({"question": message or "", "history": history}):
                    chat[-1] = {"role": "assistant", "content": chat_markdown(final, final=False)}
                    yield chat, answers, *same
        except Busy:
            chat[-1] = {"role": "assistant", "content": f"⏳ {BUSY}"}
            yield chat, answers, *same
            return
        except Exception as e:  # a backend down, a bad setting: said in the chat, the app stays up
            chat[-1] = {"role": "assistant", "content": f"⚠️ {e if isinstance(e, QAError) else f'Something went wrong: {type(e).__name__}: {e}'}"}
            yield chat, answers, *same
            return
        chat[-1] = {"role": "assistant", "content": chat_markdown(final)}
        key = str(len(chat) - 1)
        answers = dict(answers or {}) | {key: (message, final)}
        first = final.citations[0] if final.citations else None
        yield chat, answers, *self.panel_for(first), inspector_md(final), f"{key}:1" if first else ""

    def inspect(self, answers, key: str):
        from qa.render import inspector_md

        _, answer = (answers or {}).get(str(key)) or (None, None)
        return inspector_md(answer) if answer else self.gr.update()

    def show_pick(self, pick, answers):
        from qa.render import inspector_md

        key, c = picked_citation(answers, pick)
        if c is None:
            return (self.gr.update(),) * 5
        return *self.panel_for(c), inspector_md(answers[key][1]), pick

    def open_document(self, chosen, answers):
        from qa.render import document_html

        _, c = picked_citation(answers, chosen)
        text = self.app.store.document_text(c.source) if c else None
        if c is None or text is None:
            return self.gr.update(value="", visible=False)
        return self.gr.update(value=document_html(c, text), visible=True)

    def library_update(self, value=None):
        rows, choices = _library(self.app)
        return rows, self.gr.update(choices=choices, value=value)

    def add_files(self, files, progress):
        """Save and index each upload, reporting each file's outcome as it goes."""
        from index.indexer import index_paths
        from index.uploads import save_upload

        app, gr = self.app, self.gr
        rows, paths = [], []
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
                    rows[-1] = [original, f"indexed ({report.added} new {'chunk' if report.added == 1 else 'chunks'})"]
                else:
                    rows[-1] = [original, "unchanged"]
            except QAError as e:
                rows[-1] = [original, f"skipped: {e}"]
            yield rows, *self.library_update()
        yield rows, *self.library_update()

    def remove_doc(self, source, confirmed="true"):
        from index.indexer import remove_document

        gr = self.gr
        if not source:
            gr.Warning("Pick a document to remove.")
            return gr.update(), gr.update()
        if confirmed != "true":  # the page asked, and the answer was no
            return gr.update(), gr.update()
        try:
            n = remove_document(source, self.app.settings, store=self.app.store)
        except QAError as e:
            raise gr.Error(str(e)) from None
        gr.Info(f"Removed {Path(source).name} ({chunks_word(n)}).")
        return self.library_update()

    def use_answerer(self, kind, model, base_url, current):
        chosen, said, models = try_answerer(kind, model, base_url, current)
        models_update = self.gr.update(choices=models) if models else self.gr.update()
        return chosen, active_label(chosen), said, models_update

    def export(self, answers):
        from qa.render import export_markdown

        turns = [turn for _, turn in sorted((answers or {}).items(), key=lambda kv: int(kv[0]))]
        path = Path(tempfile.mkdtemp(prefix="qa-export-")) / "conversation.md"
        path.write_text(export_markdown(turns), encoding="utf-8")
        return self.gr.update(value=str(path), visible=True)

    def clear(self):
        gr = self.gr
        return [], {}, PANEL_HINT, gr.update(visible=False), gr.update(value="", visible=False), INSPECTOR_HINT, ""

    def ask_api(self, question: str, history: list[str] | None = None) -> dict:
        """One question, one JSON answer (the `qa ask --json` shape): for scripts and load tests."""
        from qa.chain import ask

        app = self.app
        try:
            s = app.settings
            with app.gate.enter():
                return ask(app.chain(s.answerer, None, s.top_k), question, history or []).to_dict()
        except Busy:
            return {"answer": BUSY, "abstained": True, "citations": [], "nearest": [], "busy": True}
        except QAError as e:
            return {"answer": str(e), "abstained": True, "citations": [], "nearest": [], "error": True}


def build_demo(settings: Settings, app: App | None = None):
    offline_environment()
    import gradio as gr

    app = app or App(settings)
    h = Handlers(app)

    # Gradio finds its special arguments by their annotations and defaults: these adapters carry them.
    def select_message(answers, evt: gr.SelectData):
        return h.inspect(answers, evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index)

    def add_files(files, progress=gr.Progress()):
        yield from h.add_files(files, progress)

    def ask_api(question: str, history: list[str] | None = None) -> dict:
        """One question, one JSON answer (the `qa ask --json` shape): for scripts and load tests."""
        return h.ask_api(question, history)

    kind0, _, model0 = settings.answerer.partition(":")
    start = {"kind": kind0 if kind0 in ("ollama", "openai") else "extractive", "model": model0,
             "base_url": (settings.openai_base_url if kind0 == "openai" else settings.ollama_base_url) or ""}
    with gr.Blocks(title="Ask your documents", analytics_enabled=False, fill_width=True) as demo:
        answers = gr.State({})
        answerer = gr.State(start)  # the answerer that answers: a Settings choice replaces it only once it works
        asked = gr.Textbox(visible=False)  # the question in flight: the box is free for the next one at once
        chosen = gr.State("")  # "message:n": the citation the panes show
        with gr.Row():
            gr.Markdown("## Ask your documents\nAnswers come only from your indexed documents; every claim links to its source.")
            answerer_md = gr.Markdown(active_label(start), elem_id="qa-answerer")
        with gr.Row(equal_height=False, elem_id="qa-main"):
            with gr.Column(scale=3, min_width=300):
                chatbot = gr.Chatbot(elem_id="qa-chatbot", height=480, buttons=["copy"], feedback_options=None, show_label=False,
                                     placeholder="Ask a question about your documents.", sanitize_html=True, elem_classes=["qa-first"])
                with gr.Row(elem_classes=["qa-first"]):
                    box = gr.Textbox(placeholder="Ask a question…", show_label=False, scale=5, min_width=200, submit_btn=True)
                pick = gr.Textbox(elem_id="qa-pick", elem_classes=["qa-hidden"], show_label=False)
                pick_go = gr.Button("open", elem_id="qa-pick-go", elem_classes=["qa-hidden"])
                with gr.Row():
                    clear = gr.Button("Clear conversation", size="sm")
                    export_btn = gr.Button("Export as Markdown", size="sm")
                export_file = gr.File(label="Conversation", visible=False, interactive=False)
                with gr.Accordion("Retrieval inspector", open=False):
                    inspector = gr.Markdown(INSPECTOR_HINT, elem_id="qa-inspector")
            with gr.Column(scale=2, min_width=280):
                gr.Markdown("### Cited passage", elem_classes=["qa-second"])
                panel = gr.HTML(PANEL_HINT, elem_id="qa-panel", elem_classes=["qa-second"])
                open_doc = gr.Button("Open the whole document at this place", size="sm", visible=False, elem_classes=["qa-second"])
                whole = gr.HTML(visible=False, elem_id="qa-whole", elem_classes=["qa-second"])
                with gr.Accordion("Add documents", open=False):
                    upload = gr.File(file_count="multiple", file_types=[".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"],
                                     label="Drop files here", elem_id="qa-upload")
                    upload_status = gr.Dataframe(headers=["file", "status"], interactive=False, wrap=True, column_widths=["35%", "65%"], elem_id="qa-upload-status")
                with gr.Accordion("Library", open=False):
                    rows0, choices0 = _library(app)
                    library = gr.Dataframe(value=rows0, headers=["document", "chunks", "date"], interactive=False, wrap=True, elem_id="qa-library")
                    with gr.Row():
                        to_remove = gr.Dropdown(choices=choices0, value=None, label="Document", scale=3, elem_id="qa-remove-pick")
                        remove_btn = gr.Button("Remove…", size="sm", variant="stop", scale=1, elem_id="qa-remove")
                    confirmed = gr.Textbox("true", elem_classes=["qa-hidden"], show_label=False)  # what the confirmation said
                with gr.Accordion("Settings", open=False):
                    kind = gr.Radio(["extractive", "ollama", "openai"], value=start["kind"], label="Answerer")
                    model = gr.Dropdown(choices=[model0] if model0 else [], value=model0 or None, allow_custom_value=True,
                                        label="Model (Ollama / OpenAI-compatible)", elem_id="qa-model")
                    base_url = gr.Textbox(value=start["base_url"], label="Base URL", elem_id="qa-base-url")
                    use = gr.Button("Check connection and use", size="sm", elem_id="qa-use")
                    use_result = gr.Markdown(elem_id="qa-use-result")
                    top_k = gr.Slider(1, 20, value=settings.top_k, step=1, label="Passages retrieved (top-k)")

        box.submit(lambda q: ("", q), [box], [box, asked], queue=False, api_visibility="private").then(
            h.respond, [asked, chatbot, answers, answerer, top_k], [chatbot, answers, panel, open_doc, whole, inspector, chosen],
            api_name="chat", concurrency_limit=None)
        chatbot.select(select_message, [answers], [inspector])
        pick_go.click(h.show_pick, [pick, answers], [panel, open_doc, whole, inspector, chosen], api_visibility="private")
        open_doc.click(h.open_document, [chosen, answers], [whole],
                       js="(...a) => { setTimeout(() => document.querySelector('#qa-whole mark')?.scrollIntoView({block: 'center'}), 400); return a; }")
        clear.click(h.clear, None, [chatbot, answers, panel, open_doc, whole, inspector, chosen])
        export_btn.click(h.export, [answers], [export_file], api_name="export")
        upload.upload(add_files, [upload], [upload_status, library, to_remove])
        remove_btn.click(h.remove_doc, [to_remove, confirmed], [library, to_remove], api_name="remove",
                         js="(s, c) => [s, String(!!s && confirm(`Remove ${s.split('/').pop()} from the index? Its chunks are "
                            "deleted; the file itself is not touched.`))]")
        use.click(h.use_answerer, [kind, model, base_url, answerer], [answerer, answerer_md, use_result, model], api_name="use_answerer")
        demo.load(h.library_update, None, [library, to_remove])  # the Library as the index holds it, at every page load
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
    offline_environment()
    import gradio as gr

    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def _launch(demo, settings: Settings, auth, open_browser: bool, block: bool):
    return demo.launch(
        server_name=settings.host, server_port=settings.port, share=False, inbrowser=open_browser, auth=auth,
        max_file_size=f"{settings.max_file_mb}mb", blocked_paths=[str(settings.data_dir.resolve())],
        theme=_theme(), css=CSS, js=CLICK_JS, footer_links=[], prevent_thread_lock=not block,
        show_error=False, quiet=not block,
    )


if __name__ == "__main__":
    main()
