"""Model output that attacks the page, in a real JupyterLab + Chromium, live and after a reopen.

The attacks notebook (``harness.attack_cells``, its own workspace) asks the simulator to echo the
attack classes of tests/test_safety.py: HTML that would set ``window.__pwned``, images and CSS that
would fetch from a recording server, ``javascript:`` links, TeX that makes links or sets attributes,
a payload that would write a file through /api/contents with the page's XSRF cookie; in plain chat
cells, in the reasoning panel, in an exploration grid and in ``%heroku_history``.

One module fixture runs the whole session, watched from inside every page by a MutationObserver
(an init script, so it sees every DOM change, the live widgets' included): run all cells, save the
notebook from JupyterLab (which signs it: its HTML is then trusted, as after a user's save), shut
the kernel down and close it, open it again in a new page. Every request of the session is
recorded. The tests then check what happened, and what did not.

Run: ``pytest tests/browser -m browser -q -p no:cacheprovider`` (needs Debian's chromium).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nbformat
import pytest
from nbformat.sign import NotebookNotary
from playwright.sync_api import Browser, Dialog, Locator, Page, Request, WebSocket, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

import heroku_magic
from heroku_magic.simulator import Simulator

from .harness import (
    ATTACK_EXPLORE_CELL,
    ATTACKS_NOTEBOOK,
    ATTACKS_WORKSPACE,
    CELL,
    ERRORS,
    HISTORY_CELL,
    HISTORY_CHAT_CELL,
    KERNEL_IDLE,
    KERNEL_READY_TIMEOUT_MS,
    NOTEBOOK,
    PANELS_NOTEBOOK,
    PWNED,
    SHOWCASE_CELL,
    STATIC,
    TEX_CELL,
    THINKING_CELL,
    TOOL_ATTACK_CELL,
    TOOLS_NOTEBOOK,
    Lab,
    RecordingServer,
    attack_cells,
    tool_page,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

RUN_TIMEOUT = 60.0  # seconds for all cells to finish (they take ~15 s)
SETTLE_TIMEOUT_MS = 15_000
SHOT = "browser-attacks.png"
SHOT_END = "browser-attacks-end.png"
FAILURE_SHOT = "browser-attacks-failure.png"

WIDGET_ERRORS = ("model not found", "Error displaying widget", "Loading widget")
# The live view's browser code. anywidget imports it from a blob: URL (same origin as the page).
ESM = Path(heroku_magic.__file__).parent / "widgets" / "chat_view.js"


# Every output of the notebook rendered, and MathJax done with every math element we emitted.
SETTLED = """(cells) => {
  const nodes = [...document.querySelectorAll('.jp-Notebook .jp-Cell')];
  if (nodes.length !== cells) return false;
  const live = document.querySelector('.jp-Notebook .heroku-magic-chat, .jp-Notebook .heroku-magic-explore');
  const done = nodes.slice(1).every((cell) => cell.querySelector(
    '.jp-Cell-outputArea > .jp-OutputArea-child > .jp-RenderedHTMLCommon'));
  const math = [...document.querySelectorAll('.jp-Notebook .hm-math')];
  return !live && done && math.every((el) => el.querySelector('mjx-container'));
}"""

# Runs in every page of the context before the page's own scripts: a MutationObserver that checks
# every element added or changed, anywhere in the document, the moment it appears.
WATCHER = """(() => {
  if (window.__watch) return;
  const watch = window.__watch = {violations: [], liveMutations: 0, liveCells: {}, liveMarkers: {}};
  const seen = new Set();
  const SCHEME = /^(javascript|data|vbscript|file|blob):/;
  const URLS = new Set(['href', 'src', 'srcset', 'xlink:href', 'action', 'formaction', 'poster', 'data',
    'background', 'ping', 'codebase', 'cite', 'longdesc', 'manifest', 'icon', 'lowsrc', 'dynsrc']);
  const FETCHING = new Set(['img', 'image', 'picture', 'source', 'track', 'video', 'audio', 'iframe',
    'frame', 'frameset', 'object', 'embed', 'applet', 'script', 'link', 'meta', 'base', 'form', 'input',
    'button', 'svg', 'portal', 'use', 'feimage', 'template', 'noscript']);
  const LIVE = '.heroku-magic-chat, .heroku-magic-explore';
  const MATHJAX_CLASS = /^(mjx-|MJX-|TEX-|MathJax$)/;  // what MathJax's CHTML output sets itself
  const flag = (why, el) => {
    const text = `${why}: ${(el.outerHTML || el.nodeName).slice(0, 240)}`;
    if (!seen.has(text) && watch.violations.length < 60) { seen.add(text); watch.violations.push(text); }
  };
  const cellIndex = (el) => {
    const cell = el.closest('.jp-Cell');
    return cell ? [...document.querySelectorAll('.jp-Notebook .jp-Cell')].indexOf(cell) : -1;
  };
  // The one image an output may hold: JupyterLab's rendering of an image/png output (the exploration's
  // chart, drawn by matplotlib from numbers and settings), inlined as base64 data, fetching nothing.
  const ownImage = (el, output) => el.localName === 'img' && el.parentElement === output
    && output.classList.contains('jp-RenderedImage') && output.dataset.mimeType === 'image/png'
    && /^data:image\\/png;base64,[A-Za-z0-9+\\/=]+$/.test(el.getAttribute('src') || '');
  watch.images = {};
  watch.check = (el) => {
    const output = el.closest('.jp-OutputArea-output');
    const math = el.closest('mjx-container');
    const tag = el.localName;
    const image = ownImage(el, output);
    if (image) watch.images[cellIndex(el)] = (watch.images[cellIndex(el)] || 0) + 1;
    for (const {name, value} of [...el.attributes]) {
      if (image && name === 'src') continue;
      const compact = value.replace(/[\\u0000-\\u0020\\u007f]+/g, '').toLowerCase();
      if (URLS.has(name) && SCHEME.test(compact)) flag(`${name} with a ${compact.split(':')[0]}: URL`, el);
      if (name.startsWith('on')) flag(`event handler ${name}`, el);
      if (!output) continue;
      if (URLS.has(name) && !(name === 'href' && tag === 'a')) flag(`${name} on <${tag}> in an output`, el);
      if (URLS.has(name) && tag === 'a') {
        const url = new URL(value, location.href);
        if (url.origin !== location.origin && !/^https?:$|^mailto:$/.test(url.protocol)) flag('link scheme', el);
      }
      if (math) {
        if (name === 'class' && value.split(/\\s+/).some((c) => c && !MATHJAX_CLASS.test(c))) flag('class in math', el);
        if (name === 'id' || (name.startsWith('data-') && !/^data-(mjx|semantic)-/.test(name))) flag(`${name} in math`, el);
        if (name === 'style' && /url\\(|background/i.test(value)) flag('style in math', el);
      }
    }
    if (output && FETCHING.has(tag) && !image) flag(`<${tag}> in an output`, el);
    if (math && (tag === 'a' || el.hasAttribute('href'))) flag('link in math', el);
  };
  const checkTree = (node) => {
    if (node.nodeType !== 1) return;
    watch.check(node);
    for (const el of node.querySelectorAll('*')) watch.check(el);
  };
  new MutationObserver((records) => {
    let live = false;
    for (const record of records) {
      if (record.type === 'attributes') watch.check(record.target);
      else for (const node of record.addedNodes) checkTree(node);
      const target = record.target.nodeType === 1 ? record.target : record.target.parentElement;
      if (target && target.closest(LIVE)) live = true;
    }
    if (!live) return;
    watch.liveMutations += 1;
    for (const view of document.querySelectorAll(LIVE)) {
      const index = cellIndex(view);
      watch.liveCells[index] = (watch.liveCells[index] || 0) + 1;
      const markers = new Set(watch.liveMarkers[index] || []);
      for (const match of view.textContent.matchAll(/__pwned=(\\d+)/g)) markers.add(match[1]);
      watch.liveMarkers[index] = [...markers];
    }
  }).observe(document, {subtree: true, childList: true, attributes: true, characterData: false});
})();"""

# Runs in every page before the page's own scripts, like the watcher: records what every Blob the page
# turns into a URL holds. anywidget loads a widget's ESM by a dynamic import of such a blob: URL (no
# element, so the watcher never sees it); the tests check each blob: URL fetched held our own ESM.
BLOBS = """(() => {
  if (window.__blobs) return;
  const blobs = window.__blobs = {};
  const create = URL.createObjectURL;
  URL.createObjectURL = function (object) {
    const url = create.call(URL, object);
    const entry = blobs[url] = {type: object instanceof Blob ? object.type : String(object), text: null};
    if (object instanceof Blob) object.text().then((text) => { entry.text = text; });
    return url;
  };
})();"""

# What a page shows now: a last sweep of the whole DOM, then everything the watcher recorded.
STATE = """([cells, widgetErrors]) => {
  const watch = window.__watch;
  for (const el of document.querySelectorAll('*')) watch.check(el);
  const notebook = document.querySelector('.jp-Notebook');
  const text = notebook ? notebook.innerText : '';
  return {
    pwned: typeof window.__pwned === 'undefined' ? null : String(window.__pwned),
    violations: watch.violations,
    liveMutations: watch.liveMutations,
    liveCells: watch.liveCells,
    liveMarkers: watch.liveMarkers,
    images: watch.images,
    offHostLinks: [...document.querySelectorAll('.jp-Notebook a[href]')]
      .map((a) => a.href).filter((href) => new URL(href).origin !== location.origin),
    widgetErrors: widgetErrors.filter((message) => text.includes(message)),
    blobs: window.__blobs || {},
    trusted: (() => {
      const panel = window.jupyterapp.shell.currentWidget;
      return panel && panel.content ? panel.content.widgets.map((cell) => cell.model.trusted) : [];
    })(),
  };
}"""

# Save the notebook like a user would (this signs it), then shut its kernel down and close it.
SAVE = "async () => { await window.jupyterapp.commands.execute('docmanager:save'); }"
CLOSE = """async () => {
  const panel = window.jupyterapp.shell.currentWidget;
  await panel.sessionContext.shutdown();
  panel.close();
}"""


@dataclass
class Session:
    """Everything the attacks session did and saw, in both pages."""

    lab: Lab
    cells: tuple[str, ...]
    page: Page  # the reopened notebook
    live: dict[str, Any]  # the first page's state after the run (before the save)
    reopened: dict[str, Any]  # the reopened page's state
    requests: list[tuple[str, str]]  # (method, URL) of every request of the session
    blobs: dict[str, dict[str, Any]]  # blob: URL -> {type, text} of every Blob made a URL, both pages
    sockets: list[str]
    dialogs: list[str]
    save: list[tuple[str, str]]  # the requests made while saving
    prompts: list[str]  # the user messages the simulator received

    def cell(self, index: int) -> Locator:
        """Cell ``index`` of the reopened notebook."""
        return self.page.locator(CELL).nth(index)

    def static(self, index: int) -> Locator:
        """The static result cell ``index`` left (in the reopened notebook)."""
        return self.cell(index).locator(STATIC)


def _text(page: Page) -> str:
    return str(page.evaluate("() => document.querySelector('.jp-Notebook').innerText"))[-3000:]


def _fail(page: Page, lab: Lab, shot: Path, what: str) -> None:
    page.screenshot(path=str(shot))
    pytest.fail(f"{what} (screenshot {shot}):\n{_text(page)}\n--- JupyterLab log ---\n{lab.log_tail()}")


def _run_all(page: Page, lab: Lab, shot: Path) -> None:
    """Run every cell (not awaited, so the watcher sees the streaming); fail at once on an error."""
    page.evaluate(
        "() => { window.__ranAll = false; window.jupyterapp.commands"
        ".execute('notebook:run-all-cells').then(() => { window.__ranAll = true; }); }"
    )
    deadline = time.monotonic() + RUN_TIMEOUT
    while not page.evaluate("() => window.__ranAll"):
        if page.locator(ERRORS).count():
            _fail(page, lab, shot, "a cell failed")
        if time.monotonic() > deadline:
            _fail(page, lab, shot, f"the cells did not finish within {RUN_TIMEOUT:.0f} s")
        page.wait_for_timeout(100)
    if page.locator(ERRORS).count():
        _fail(page, lab, shot, "a cell failed")


def _settle(page: Page, lab: Lab, shot: Path, cells: int) -> None:
    """Wait until every output is rendered and MathJax has typeset every math element."""
    try:
        page.wait_for_function(SETTLED, arg=cells, timeout=SETTLE_TIMEOUT_MS)
    except PlaywrightTimeout:
        _fail(page, lab, shot, "the outputs did not settle (all rendered, all math typeset)")


def _user_prompts(sim: Simulator) -> list[str]:
    prompts = []
    for request in sim.requests:
        if request.method == "POST" and request.path.endswith("/chat/completions") and request.body:
            users = [m for m in request.body.get("messages", []) if m.get("role") == "user"]
            if users and isinstance(users[-1].get("content"), str):
                prompts.append(users[-1]["content"])
    return prompts


@pytest.fixture(scope="module")
def session(
    lab: Lab, browser: Browser, artifacts: Path, browser_simulator: Simulator, leak_server: RecordingServer
) -> Iterator[Session]:
    """Run the attacks notebook, save it, close it, reopen it: every page watched, every request kept."""
    cells = attack_cells(leak_server.url)
    shot = artifacts / FAILURE_SHOT
    requests: list[tuple[str, str]] = []
    sockets: list[str] = []
    dialogs: list[str] = []
    first_prompt = len(_user_prompts(browser_simulator))

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_request(request: Request) -> None:
        requests.append((request.method, request.url))

    def on_socket(socket: WebSocket) -> None:
        sockets.append(socket.url)

    context = browser.new_context(viewport={"width": 1280, "height": 1800})
    context.on("request", on_request)
    context.on("dialog", on_dialog)
    context.add_init_script(WATCHER)
    context.add_init_script(BLOBS)
    url = lab.notebook_url(ATTACKS_NOTEBOOK, workspace=ATTACKS_WORKSPACE)
    try:
        page = context.new_page()
        page.on("websocket", on_socket)
        page.set_default_timeout(15_000)
        page.goto(url)
        page.wait_for_function(KERNEL_IDLE, arg=len(cells), timeout=KERNEL_READY_TIMEOUT_MS)
        _run_all(page, lab, shot)
        _settle(page, lab, shot, len(cells))
        live = page.evaluate(STATE, [len(cells), list(WIDGET_ERRORS)])

        before = len(requests)
        page.evaluate(SAVE)
        save = requests[before:]
        page.evaluate(CLOSE)
        page.close()

        page = context.new_page()
        page.on("websocket", on_socket)
        page.set_default_timeout(15_000)
        page.goto(url)
        page.wait_for_function(KERNEL_IDLE, arg=len(cells), timeout=KERNEL_READY_TIMEOUT_MS)
        _settle(page, lab, shot, len(cells))
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        page.wait_for_timeout(300)  # the layout after the sidebar collapsed
        reopened = page.evaluate(STATE, [len(cells), list(WIDGET_ERRORS)])
        page.screenshot(path=str(artifacts / SHOT))  # the top: math, code, the first attacks
        page.locator(CELL).nth(TEX_CELL).evaluate("(el) => el.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(300)
        page.screenshot(path=str(artifacts / SHOT_END))  # TeX, HTML, reasoning, exploration, history
        yield Session(
            lab=lab,
            cells=cells,
            page=page,
            live=live,
            reopened=reopened,
            requests=requests,
            blobs={**live["blobs"], **reopened["blobs"]},
            sockets=sockets,
            dialogs=dialogs,
            save=save,
            prompts=_user_prompts(browser_simulator)[first_prompt:],
        )
    finally:
        context.close()


# The payloads that are a fence's info string (after \x0b, after \u2028): never shown (CommonMark).
UNSHOWN = {"7", "10"}


def _markers(source: str) -> list[str]:
    return PWNED.findall(source)


def test_no_script_ran_and_no_dangerous_element_appeared(session: Session) -> None:
    problems = [f"dialog: {dialog}" for dialog in session.dialogs]
    for name, state in (("while running", session.live), ("after reopening", session.reopened)):
        if state["pwned"] is not None:
            problems.append(f"a payload ran {name}: window.__pwned = {state['pwned']}")
        problems += [f"{name}: {violation}" for violation in state["violations"]]
        # The one image allowed (inline PNG data, fetching nothing) is the exploration's chart, and
        # only the exploration cell has it.
        if set(state["images"]) - {str(ATTACK_EXPLORE_CELL)}:
            problems.append(f"{name}: images outside the exploration's chart: {state['images']}")
    assert not problems, "\n".join(problems)


def test_the_live_views_were_watched_while_they_streamed(session: Session) -> None:
    live = session.live
    streamed = {int(index) for index, count in live["liveCells"].items() if count >= 2}
    expected = set(range(1, HISTORY_CELL))  # every chat and explore cell, not the history
    assert streamed >= expected, f"no live updates seen for cells {sorted(expected - streamed)}: {live}"
    # The payloads were on screen as text in the live views (their markers were in the text).
    shown = {marker for markers in live["liveMarkers"].values() for marker in markers}
    assert {"1", "40", "50", "60", "70"} <= shown, f"payload text seen live: {sorted(shown, key=int)}"


def test_nothing_was_requested_from_another_host(session: Session, leak_server: RecordingServer) -> None:
    server = urlsplit(session.lab.url).netloc
    # anywidget imports each live view's ESM from a blob: URL the page made: not a network request,
    # and allowed only if it is the page's own origin and the blob held exactly our ESM (a constant
    # of ours, never model text).
    esm = ESM.read_text(encoding="utf-8")
    blobs = [(m, u) for m, u in session.requests if u.startswith("blob:")]
    foreign = [
        (m, u, session.blobs.get(u, {}).get("type"))
        for m, u in blobs
        if m != "GET"
        or urlsplit(u.removeprefix("blob:")).netloc != server
        or session.blobs.get(u, {}).get("text") != esm
    ]
    assert not foreign, f"blob: URLs fetched that are not our ESM: {foreign}"
    elsewhere = [(m, u) for m, u in session.requests if urlsplit(u).netloc != server and (m, u) not in blobs]
    assert not elsewhere, f"requests to other hosts: {elsewhere}"
    assert all(urlsplit(u).netloc == server for u in session.sockets), session.sockets
    assert not leak_server.requests, f"the recording server got: {leak_server.requests}"
    # The images are links the user may follow (to the recording server), never fetched.
    assert session.reopened["offHostLinks"], "the image links are missing"
    assert all(link.startswith(leak_server.url) for link in session.reopened["offHostLinks"]), (
        session.reopened
    )


def test_nothing_was_written_but_the_save(session: Session) -> None:
    notebook = f"/api/contents/{ATTACKS_NOTEBOOK}"
    writes = [
        (method, urlsplit(url).path)
        for method, url in session.requests
        if method not in ("GET", "HEAD", "OPTIONS") and urlsplit(url).path.startswith("/api/contents")
    ]
    saves = [(method, urlsplit(url).path) for method, url in session.save if method == "PUT"]
    assert saves == [("PUT", notebook)], f"the save made {session.save}"
    # Opening a notebook makes JupyterLab create a checkpoint of it: its only other write.
    others = [w for w in writes if w != ("PUT", notebook) and w != ("POST", f"{notebook}/checkpoints")]
    assert writes.count(("PUT", notebook)) == 1 and not others, f"writes to /api/contents: {writes}"
    root = session.lab.root
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    allowed = {NOTEBOOK, PANELS_NOTEBOOK, ATTACKS_NOTEBOOK, TOOLS_NOTEBOOK}
    allowed |= {f".ipynb_checkpoints/{Path(name).stem}-checkpoint.ipynb" for name in allowed}
    assert set(files) <= allowed, f"unexpected files in the server's root: {sorted(set(files) - allowed)}"


def test_the_saved_notebook_is_trusted_and_reopens_without_widget_errors(session: Session) -> None:
    saved = nbformat.read(session.lab.root / ATTACKS_NOTEBOOK, as_version=4)
    notary = NotebookNotary(data_dir=str(session.lab.data_dir))
    assert notary.check_signature(saved), "the save did not sign the notebook: its HTML would be sanitized"
    assert session.reopened["trusted"] and all(session.reopened["trusted"]), session.reopened["trusted"]
    assert not session.reopened["widgetErrors"], session.reopened["widgetErrors"]
    assert not session.live["widgetErrors"], session.live["widgetErrors"]
    views = [
        output["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
        for cell in saved.cells
        for output in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
    ]
    # Each live view's output was emptied (an empty text): the saved notebook names no widget model.
    emptied = [
        o for cell in saved.cells for o in cell.get("outputs", []) if o.get("data") == {"text/plain": ""}
    ]
    assert emptied and not views, f"widget views saved: {views}"


def test_prompts_reached_the_model_verbatim(session: Session) -> None:
    # JupyterLab, the editor and IPython kept the line breaks the attacks are about.
    sent = "\n".join(session.prompts)
    for character in ("\x0b", "\u2028"):
        assert character in sent, f"{character!r} never reached the simulator"
    bodies = [cell.split("\n", 1)[1] for cell in session.cells if cell.startswith("%%heroku_chat")]
    received = {prompt.removesuffix("\n") for prompt in session.prompts}  # IPython ends a cell with \n
    missing = [body[:60] for body in bodies if body not in received]
    assert not missing, f"prompts not sent verbatim: {missing}"


def test_every_attack_is_shown_as_text(session: Session) -> None:
    for index, source in enumerate(session.cells):
        if index in (0, HISTORY_CELL):
            continue
        text = session.static(index).text_content() or ""
        for marker in _markers(source):
            if marker in UNSHOWN:
                continue
            assert f"__pwned={marker}" in text, f"cell {index}: payload {marker} not shown:\n{text}"
        assert "onerror=" not in source or "onerror=" in text, f"cell {index}:\n{text}"


def test_math_is_typeset_but_tex_that_links_or_sets_attributes_is_code(session: Session) -> None:
    showcase = session.static(SHOWCASE_CELL)
    expect(showcase.locator(".hm-math mjx-container")).to_have_count(2)  # e^{iπ}+1=0 and the integral
    math = session.static(TEX_CELL)
    for command in ("\\href", "\\class", "\\style", "\\cssId", "\\data", "\\unicode", "\\require", "\\def"):
        expect(math.locator("code", has_text=command)).not_to_have_count(0)
    containers = session.page.locator(".jp-Notebook mjx-container")
    assert containers.count() >= 2
    expect(
        session.page.locator(".jp-Notebook mjx-container a, .jp-Notebook mjx-container [href]")
    ).to_have_count(0)
    expect(
        session.page.locator(
            ".jp-Notebook mjx-container .pwnclass, .jp-Notebook #pwnid, .jp-Notebook mjx-container [data-pwn]"
        )
    ).to_have_count(0)


def test_code_is_highlighted(session: Session) -> None:
    code = session.static(SHOWCASE_CELL).locator("pre.hm-code code")
    expect(code).to_contain_text("def inc(x: int) -> int:")
    keyword = code.locator(".k", has_text="def").first
    colour = keyword.evaluate("(el) => getComputedStyle(el).color")
    plain = code.evaluate("(el) => getComputedStyle(el).color")
    assert colour != plain, f"the keyword is not coloured ({colour})"


def test_reasoning_exploration_and_history_show_payloads_as_text(session: Session) -> None:
    reasoning = session.static(THINKING_CELL).locator("details")
    expect(reasoning.locator("summary")).to_contain_text("Thought for")
    reasoning.locator("summary").click()
    expect(reasoning).to_contain_text('The user wrote: "echo: <img src=x onerror="window.__pwned=40">')
    explore = session.static(ATTACK_EXPLORE_CELL)
    expect(explore.locator("table tbody tr")).to_have_count(2)
    expect(explore.locator("h4")).to_have_count(2)
    expect(explore).to_contain_text('``a` <img src=x onerror="window.__pwned=50">')
    history = session.static(HISTORY_CELL)
    expect(history.locator("h2")).to_have_count(2)
    # The prompt and the answer, both with the payload as text.
    text = history.text_content() or ""
    assert text.count('<img src=x onerror="window.__pwned=70">') == 2, text
    expect(session.static(HISTORY_CHAT_CELL)).to_contain_text("[x](javascript:window.__pwned=71)")


def test_screenshots_saved(session: Session, artifacts: Path) -> None:
    assert (artifacts / SHOT).stat().st_size > 10_000
    assert (artifacts / SHOT_END).stat().st_size > 10_000


def test_a_hostile_tool_result_is_shown_as_text(session: Session, leak_server: RecordingServer) -> None:
    # The tools returned a hostile page (as text, and inside JSON): each card shows it as text, live
    # and in the static output; the answer that quotes it too. The checks above cover the rest: no
    # script ran, no dangerous element appeared, nothing was fetched from the page's host.
    markers = set(_markers(tool_page(leak_server.url)))
    assert markers == {"80", "81", "82", "83"}
    seen_live = set(session.live["liveMarkers"].get(str(TOOL_ATTACK_CELL), []))
    assert markers <= seen_live, f"the hostile result was not seen in the live view: {session.live}"
    static = session.static(TOOL_ATTACK_CELL)
    cards = static.locator("details.hm-tool")
    expect(cards).to_have_count(2)  # the JSON's fence-closing string did not break out of its card
    expect(cards.nth(0).locator("summary")).to_contain_text(
        '🔧 fetch_page → <img src=x onerror="window.__pwned=80">'
    )
    expect(cards.nth(1).locator("summary")).to_contain_text("🔧 fetch_json → {")
    for index in range(2):
        result = cards.nth(index).locator("pre").last  # the result: plain text, or the JSON code block
        text = result.text_content() or ""
        missing = [m for m in markers if f"__pwned={m}" not in text]
        assert not missing and "<script>" in text, f"card {index}: payloads {missing} not shown:\n{text}"
    expect(cards.nth(1).locator("pre.hm-code").last).to_contain_text('"fence": "```\\n<img src=x onerror=')
    expect(static).to_contain_text('fetch_page returned: <img src=x onerror="window.__pwned=80">')
