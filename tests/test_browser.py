"""The UI in a real browser: Playwright driving Debian's Chromium against a launched app with the
real model. Screenshots go to test-artifacts/ (look at them: they are what a user sees)."""
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import LIU_Q, ROOT, free_port

pytestmark = [pytest.mark.integration, pytest.mark.browser]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
EVIL = ("The Zephyr project stores its launch code in vault 4471. <script>window.__pwned = 1</script> "
        "![tracker](http://tracker.invalid/pixel.png) <img src=\"http://tracker.invalid/x.png\" onerror=\"window.__pwned=2\">")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    import ui
    from index.indexer import index_paths
    from qa.settings import Settings

    docs = tmp_path_factory.mktemp("docs")
    (docs / "zephyr.txt").write_text(EVIL, encoding="utf-8")
    s = Settings(data_dir=tmp_path_factory.mktemp("browser-index"), embedding="minilm", port=free_port())
    index_paths([ROOT / "seeds", docs / "zephyr.txt"], s, progress=False)
    demo = ui.main(s, block=False)
    yield f"http://127.0.0.1:{s.port}/", s
    demo.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                              "--disable-background-networking", "--disable-component-update"])
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    outside: list[str] = []

    def guard(route):
        host = urllib.parse.urlparse(route.request.url).hostname
        if host not in ("127.0.0.1", "localhost", None) and not route.request.url.startswith(("data:", "blob:")):
            outside.append(route.request.url)
            route.abort()  # nothing leaves the machine, even if a test were to fail
        else:
            route.continue_()

    pg.route("**/*", guard)
    pg.outside = outside
    pg.goto(app_url[0])
    pg.wait_for_selector("[data-testid=textbox]")
    yield pg
    context.close()


def ask(pg, question: str) -> None:
    before = pg.locator("[data-testid=bot]").count()
    box = pg.locator("[data-testid=textbox] textarea, textarea[data-testid=textbox]").first
    box.fill(question)
    pg.click("[data-testid=submit-button]")
    # Wait for the new answer (not an earlier one) to finish: while it streams the send button is a
    # stop button and the message shows a placeholder.
    pg.wait_for_function(
        """(n) => {
            const bots = document.querySelectorAll('[data-testid=bot]');
            return bots.length > n && !document.querySelector('[data-testid=stop-button]')
                && bots[bots.length - 1].innerText.trim() !== '…';
        }""", arg=before, timeout=60_000)


def last_bot(pg) -> str:
    return pg.locator("[data-testid=bot]").last.inner_text()


def test_cited_answer_and_highlighted_passage(page):
    ask(page, LIU_Q)
    assert "Liu Jianchao" in last_bot(page)
    chip = page.locator("#qa-chips label").first
    chip.wait_for()
    assert chip.inner_text().startswith("[1] 000_85dd2a9e8a7d58fd.txt")
    chip.click()
    mark = page.locator("#qa-panel mark")
    mark.wait_for()
    assert "Liu Jianchao, who heads the Chinese Communist Party" in mark.inner_text()
    page.click("text=Open the whole document at this place")
    page.locator("#qa-whole mark").wait_for()
    page.screenshot(path=str(ARTIFACTS / "cited-answer.png"), full_page=True)
    assert page.outside == []


def test_follow_up_uses_the_conversation(page):
    ask(page, "Who did Wang Yi talk to on the phone?")
    ask(page, "What did he say is the most urgent task?")
    text = last_bot(page)
    assert "Something went wrong" not in text
    assert "cease fire" in text
    page.click("text=Retrieval inspector")
    page.wait_for_function("() => (document.querySelector('#qa-inspector')?.innerText || '').includes('(Wang Yi)')", timeout=15_000)
    inspector = page.locator("#qa-inspector").inner_text()
    assert "reader confidence" in inspector and "reader" in inspector  # the reader's scores, beside retrieval's


def test_unanswerable_question_looks_like_an_abstention(page):
    ask(page, "What is the capital of Australia?")
    text = last_bot(page)
    assert text.startswith("Not found in your documents") and "Closest matches (not citations)" in text
    assert not page.locator("#qa-chips label").count()
    page.screenshot(path=str(ARTIFACTS / "abstention.png"), full_page=True)


def test_upload_then_ask_about_it(page, tmp_path):
    doc = tmp_path / "harbour notes.md"
    doc.write_text("# Harbour\n\nThe lighthouse keeper of Port Kestrel is Marguerite Osei, appointed in 1998.", encoding="utf-8")
    bad = tmp_path / "minutes.pdf"
    bad.write_bytes(b"%PDF-1.4 cut off here")
    page.click("text=Add documents")
    page.locator("#qa-upload input[type=file]").set_input_files([str(doc), str(bad)])
    page.wait_for_function("() => ['indexed', 'skipped'].every(w => (document.querySelector('#qa-upload-status')?.innerText || '').includes(w))",
                           timeout=60_000)
    # The skipped file's reason is shown whole: no box between it and the table scrolls sideways to hide it.
    clipped = page.evaluate("""() => {
        const root = document.querySelector('#qa-upload-status');
        const cell = [...root.querySelectorAll('*')].find(e => e.children.length === 0 && (e.innerText || '').includes('corrupt'));
        const out = [];
        for (let x = cell; x && x !== root; x = x.parentElement) if (x.scrollWidth > x.clientWidth + 1) out.push([x.tagName, x.scrollWidth, x.clientWidth]);
        return out;
    }""")
    assert clipped == [], clipped
    ask(page, "Who is the lighthouse keeper of Port Kestrel?")
    assert "Marguerite Osei" in last_bot(page)
    chip = page.locator("#qa-chips label").first
    assert "harbour_notes.md" in chip.inner_text() or "harbour notes.md" in chip.inner_text()
    page.screenshot(path=str(ARTIFACTS / "upload.png"), full_page=True)


def test_document_text_renders_inert(page):
    ask(page, "Where does the Zephyr project store its launch code?")
    assert "4471" in last_bot(page)
    page.locator("#qa-chips label").first.click()
    page.locator("#qa-panel mark").wait_for()
    time.sleep(0.5)
    assert page.evaluate("window.__pwned") is None
    assert "<script>" in page.locator("#qa-panel").inner_text()  # shown as the characters it is
    assert page.outside == [], page.outside
    page.screenshot(path=str(ARTIFACTS / "inert.png"), full_page=True)


def test_narrow_window_has_no_horizontal_scroll(browser, app_url):
    context = browser.new_context(viewport={"width": 640, "height": 900})
    pg = context.new_page()
    pg.goto(app_url[0])
    pg.wait_for_selector("[data-testid=textbox]")
    ask(pg, LIU_Q)
    width = pg.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    pg.screenshot(path=str(ARTIFACTS / "narrow.png"), full_page=True)
    context.close()
    assert width[0] <= width[1], width


def test_data_directory_cannot_be_fetched_through_gradio(app_url):
    url, s = app_url
    data = s.data_dir.resolve()
    targets = [data / "manifest.sqlite", data / "chroma" / "chroma.sqlite3", next((data / "texts").iterdir())]
    variants = []
    for t in targets:
        variants += [str(t), str(t).upper(), str(t).replace("/manifest", "/./manifest"),
                     f"{ROOT}/../{Path(*t.parts[1:])}", urllib.parse.quote(str(t)), "../" * 8 + str(t).lstrip("/")]
    for v in variants:
        try:
            with urllib.request.urlopen(f"{url}gradio_api/file={v}", timeout=10) as r:
                body = r.read(64)
                pytest.fail(f"{v} was served ({r.status}): {body!r}")
        except urllib.error.HTTPError as e:
            assert e.code in (400, 403, 404), (v, e.code)
