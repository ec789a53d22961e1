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
    from index.settings import Settings

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
            const last = bots[bots.length - 1];
            // done: its markers are links (the final render), or it is an abstention or a warning
            return bots.length > n && !document.querySelector('[data-testid=stop-button]') && last.innerText.trim() !== '…'
                && (last.querySelector('a[href^="#cite-"]') || /^(I could not find|⚠️|⏳)/.test(last.innerText.trim()));
        }""", arg=before, timeout=60_000)


def last_bot(pg) -> str:
    return pg.locator("[data-testid=bot]").last.inner_text()


def panel_text(pg) -> str:
    return pg.locator("#qa-panel").inner_text()


def test_cited_answer_and_highlighted_passage(page):
    ask(page, LIU_Q)
    bot = page.locator("[data-testid=bot]").last
    assert "Liu Jianchao" in bot.inner_text()
    # the first citation is open at once; the answer's [2] marker opens the second, its source line the first
    page.locator("#qa-panel mark").wait_for()
    assert "Liu Jianchao, who heads the Chinese Communist Party" in page.locator("#qa-panel mark").inner_text()
    markers = bot.locator('a[href="#cite-2"]')
    assert markers.count() == 2  # in the answer, and on its source line
    markers.first.click()
    page.wait_for_function("() => document.querySelector('#qa-panel .qa-passage-head')?.innerText.startsWith('[2]')", timeout=15_000)
    assert "One of China's top diplomats warned Israel" in page.locator("#qa-panel mark").inner_text()
    bot.locator('a[href="#cite-1"]').last.click()
    page.wait_for_function("() => document.querySelector('#qa-panel .qa-passage-head')?.innerText.startsWith('[1]')", timeout=15_000)
    # one line a source, told apart by their first words; the quotes are not repeated under the answer
    text = bot.inner_text()
    assert "[1] 000_85dd2a9e8a7d58fd.txt · 2022-08-18 · “The message from Liu Jianchao, who…”" in text
    assert text.count("most unequivocal and direct message") == 1
    page.click("text=Open the whole document at this place")
    page.locator("#qa-whole mark").wait_for()
    assert "Liu Jianchao, who heads" in page.locator("#qa-whole mark").inner_text()
    page.screenshot(path=str(ARTIFACTS / "cited-answer.png"), full_page=True)
    assert page.outside == []


def test_panes_follow_the_chosen_citation_across_documents(page):
    ask(page, "Who did Wang Yi talk to on the phone?")
    page.locator("#qa-panel mark").wait_for()
    page.click("text=Open the whole document at this place")
    page.locator("#qa-whole mark").wait_for()
    assert "Blinken" in page.locator("#qa-whole").inner_text()
    ask(page, "Where does the Zephyr project store its launch code?")
    page.wait_for_function("() => (document.querySelector('#qa-panel')?.innerText || '').includes('zephyr.txt')", timeout=15_000)
    assert not page.locator("#qa-whole").is_visible() or "Blinken" not in page.locator("#qa-whole").inner_text()
    page.click("text=Open the whole document at this place")
    page.wait_for_function("() => (document.querySelector('#qa-whole')?.innerText || '').includes('vault 4471')", timeout=15_000)
    assert "Blinken" not in page.locator("#qa-whole").inner_text()
    # back to the earlier answer's citation: the passage and the whole document follow it
    page.locator("[data-testid=bot]").first.locator('a[href="#cite-1"]').first.click()
    page.wait_for_function("() => (document.querySelector('#qa-panel')?.innerText || '').includes('003_a8f53ad96f2022e1.txt')", timeout=15_000)
    assert not page.locator("#qa-whole").is_visible() or "vault 4471" not in page.locator("#qa-whole").inner_text()
    page.screenshot(path=str(ARTIFACTS / "panes-follow.png"), full_page=True)


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


def test_unanswerable_question_is_one_sentence_and_the_closest_passages_fold_away(page):
    ask(page, "What is the capital of Australia?")
    bot = page.locator("[data-testid=bot]").last
    text = bot.inner_text()
    assert text.startswith("I could not find this in the indexed documents.")
    summary = bot.locator("details.qa-closest summary")
    assert summary.inner_text().startswith("Closest passages (not citations): ")
    assert not bot.locator("details.qa-closest p").first.is_visible()  # titles only until opened
    page.screenshot(path=str(ARTIFACTS / "abstention.png"), full_page=True)
    summary.click()
    assert bot.locator("details.qa-closest p").first.is_visible()
    assert not bot.locator('a[href^="#cite-"]').count()  # nothing is cited


def test_upload_then_ask_about_it_and_the_library_lists_it_after_a_reload(page, tmp_path):
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
    text = last_bot(page)
    assert "Marguerite Osei" in text
    assert "[1] harbour_notes.md" in text or "[1] harbour notes.md" in text
    assert "uploads" not in text and "uploads" not in panel_text(page)
    page.screenshot(path=str(ARTIFACTS / "upload.png"), full_page=True)
    page.reload()
    page.wait_for_selector("[data-testid=textbox]")
    page.click("text=Library")
    page.wait_for_function("() => /harbour.notes\\.md/.test(document.querySelector('#qa-library')?.innerText || '')", timeout=15_000)
    library = page.locator("#qa-library").inner_text()
    assert "uploads" not in library and "000_85dd2a9e8a7d58fd.txt" in library


def test_table_questions_over_an_uploaded_markdown_file_and_a_docx(page, tmp_path):
    import docx

    d = docx.Document()
    d.add_paragraph("The Millbrook library lends books, films and tools to everyone in the parish.")
    hours = [["Day", "Opens", "Closes"], ["Monday to Friday", "9:00", "19:00"], ["Saturday", "10:00", "13:00"]]
    table = d.add_table(rows=3, cols=3)
    for r, row in enumerate(hours):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    d.save(str(tmp_path / "millbrook.docx"))
    page.click("text=Add documents")
    page.locator("#qa-upload input[type=file]").set_input_files([str(ROOT / "tests" / "data" / "kettle.md"), str(tmp_path / "millbrook.docx")])
    page.wait_for_function("() => ((document.querySelector('#qa-upload-status')?.innerText || '').match(/indexed|unchanged/g) || []).length >= 2",
                           timeout=60_000)
    ask(page, "What temperature is the Delicate preset?")
    text = last_bot(page)
    assert text.startswith("Delicate: 70 °C, white tea [1]") and "| Preset |" not in text, text
    page.locator("#qa-panel mark").wait_for()
    assert page.locator("#qa-panel mark").inner_text() == "| Delicate | 70 °C | white tea |"
    page.screenshot(path=str(ARTIFACTS / "table-markdown.png"), full_page=True)
    ask(page, "When does the library close on Saturday?")
    text = last_bot(page)
    assert text.startswith("Saturday: 10:00, 13:00 [1]") and "millbrook.docx" in text, text
    page.screenshot(path=str(ARTIFACTS / "table-docx.png"), full_page=True)


def test_remove_asks_first_and_names_what_goes(browser, tmp_path):
    import ui
    from index.indexer import index_paths
    from index.settings import Settings

    (tmp_path / "kettle.md").write_text("The kettle boils water in 90 seconds.", encoding="utf-8")
    (tmp_path / "toaster.md").write_text("The toaster has four slots.", encoding="utf-8")
    s = Settings(data_dir=tmp_path / "data", embedding="fake", port=free_port())
    index_paths([tmp_path / "kettle.md", tmp_path / "toaster.md"], s, progress=False)
    demo = ui.main(s, block=False)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    try:
        pg.goto(f"http://127.0.0.1:{s.port}/")
        pg.wait_for_selector("[data-testid=textbox]")
        pg.click("text=Library")
        pg.locator("#qa-remove-pick input").click()
        pg.locator("[role=option]", has_text="kettle.md").click()
        said = []
        pg.once("dialog", lambda d: (said.append(d.message), d.dismiss()))
        pg.click("#qa-remove")
        time.sleep(1.5)
        assert said and said[0].startswith("Remove kettle.md from the index?")
        assert "kettle.md" in pg.locator("#qa-library").inner_text()  # declined: nothing removed
        assert "Error" not in pg.locator("body").inner_text()
        pg.once("dialog", lambda d: d.accept())
        pg.click("#qa-remove")
        pg.wait_for_function("() => !(document.querySelector('#qa-library')?.innerText || '').includes('kettle.md')", timeout=15_000)
        assert "toaster.md" in pg.locator("#qa-library").inner_text()
        body = pg.locator("body").inner_text()
        assert "Removed kettle.md (1 chunk)." in body and "Error" not in body and "/tmp/" not in body
        pg.screenshot(path=str(ARTIFACTS / "remove.png"), full_page=True)
    finally:
        context.close()
        demo.close()


def test_a_broken_settings_choice_leaves_answering_working(page):
    page.click("text=Settings")
    page.locator("label", has_text="openai").first.click()
    page.click("#qa-use")
    page.wait_for_function("() => (document.querySelector('#qa-use-result')?.innerText || '').startsWith('Not switched')", timeout=15_000)
    assert "Still answering with extractive." in page.locator("#qa-use-result").inner_text()
    assert "extractive" in page.locator("#qa-answerer").inner_text() and "openai:" not in page.locator("#qa-answerer").inner_text()
    ask(page, LIU_Q)
    assert "Liu Jianchao" in last_bot(page)
    page.screenshot(path=str(ARTIFACTS / "settings-refused.png"), full_page=True)


def test_document_text_renders_inert(page):
    ask(page, "Where does the Zephyr project store its launch code?")
    assert "4471" in last_bot(page)
    page.locator("[data-testid=bot]").last.locator('a[href="#cite-1"]').first.click()
    page.locator("#qa-panel mark").wait_for()
    time.sleep(0.5)
    assert page.evaluate("window.__pwned") is None
    assert "<script>" in page.locator("#qa-panel").inner_text()  # shown as the characters it is
    assert page.outside == [], page.outside
    page.screenshot(path=str(ARTIFACTS / "inert.png"), full_page=True)


def test_a_400px_window_puts_the_chat_answer_and_passage_first_without_sideways_scroll(browser, app_url):
    context = browser.new_context(viewport={"width": 400, "height": 800})
    pg = context.new_page()
    pg.goto(app_url[0])
    pg.wait_for_selector("[data-testid=textbox]")
    ask(pg, LIU_Q)
    pg.locator("#qa-panel mark").wait_for()
    pg.click("text=Retrieval inspector")
    pg.wait_for_function("() => (document.querySelector('#qa-inspector')?.innerText || '').includes('reader')", timeout=15_000)
    width = pg.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    tops = pg.evaluate("""() => ['#qa-chatbot', '#qa-panel', '#qa-inspector', '#qa-library'].map(
        s => document.querySelector(s)?.closest('.block, .gr-group, div')?.getBoundingClientRect().top ?? -1)""")
    # the inspector's table scrolls inside itself, each cell on one line, not one character a line
    cell = pg.evaluate("() => { const td = document.querySelectorAll('#qa-inspector td')[1]; return [td.getBoundingClientRect().height, td.innerText]; }")
    pg.click("text=Library")
    pg.wait_for_function("() => (document.querySelector('#qa-library')?.innerText || '').includes('000_85dd2a9e8a7d58fd.txt')", timeout=15_000)
    # the Library's headers are whole words ("chunks", not "chun ks"), its rows the files' names
    header = pg.evaluate("""() => [...document.querySelectorAll('#qa-library th')].map(th => [th.innerText.trim(), th.getBoundingClientRect().height])""")
    pg.screenshot(path=str(ARTIFACTS / "narrow-400.png"), full_page=True)
    context.close()
    assert [h for h, _ in header][:3] == ["document", "chunks", "date"] and all(hgt < 60 for _, hgt in header), header
    assert width[0] <= width[1], width
    assert tops[0] < tops[1] < tops[2], tops  # chat, then the cited passage, then the rest
    assert cell[0] < 50 and ".txt" in cell[1], cell


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
