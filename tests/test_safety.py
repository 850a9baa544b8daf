"""Model output is untrusted: the renderer's HTML is checked by an independent HTML5 parser (html5lib).

The oracle below is written here, not imported from the sanitizer: which tags, attributes and URL
schemes a trusted frontend may be handed, and the MathJax rule (outside math, ``$`` and ``\\`` only
ever stand alone in an element, so MathJax can never pair them into a delimiter; inside math, no TeX
command that makes links or sets attributes). The attack classes that once ran script in JupyterLab
are regression cases; hypothesis builds more from the same dangerous fragments.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import unescape
from urllib.parse import urlsplit

import html5lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heroku_magic.events import ToolCall, ToolResult
from heroku_magic.render.cards import tool_card_html
from heroku_magic.render.markdown import first_code_block, render_markdown, split_blocks

SAFE_TAGS = {
    "a", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
SAFE_ATTRIBUTES = {
    "a": {"href", "title", "rel"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
    "span": {"class"},
    "div": {"class"},
    "pre": {"class"},
}
MATH_SKIPPED = {"code", "pre"}  # MathJax does not look inside these
DANGEROUS_TEX = re.compile(
    r"\\(href|url|class|style|cssId|data|unicode|require|def|gdef|edef|xdef|let|newcommand|"
    r"renewcommand|providecommand|csname|bbox|mmlToken|html|attr)(?![A-Za-z])"
)
IMG = "<img src=x onerror=alert(1)>"

# The attack classes that ran script (or fetched) in JupyterLab through the old regex escaping.
ATTACKS = [
    f"``a` {IMG}",  # backticks that don't balance
    f"`a\n\n{IMG}`",  # a code span across a blank line
    f"`a\n# heading {IMG}`",  # ... across a heading
    f"```a`b\n{IMG}\n```",  # a "fence" whose info string has a backtick
    f"- item\n\n  ```\n  {IMG}\n  ```\n{IMG}",  # a fence inside a list item
    f"```\x0b{IMG}\n```\n{IMG}",  # \x0b: a line break to splitlines(), not to Markdown
    f"text\u2028```\n{IMG}\n```\u2028{IMG}",
    "$$\n\n![x](http://127.0.0.1:9/leak.png?q=secret)\n\n$$",  # $$ across a blank line
    "\\$ ![x](http://127.0.0.1:9/leak.png?q=secret) $",  # an escaped dollar
    "[x](javascript\\:alert(1))",
    "[x](java&#115;cript:alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x][r]\n\n[r]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "[x](data:text/html,<script>alert(1)</script>)",
    "[x](vbscript:msgbox(1))",
    "$\\href{javascript:alert(1)}{click}$",
    "$$\\class{x}{y}$$",
    "$\\style{background:url(http://127.0.0.1:9/)}{x}$",
    "$\\cssId{x}{y}$ $\\data{x=1}{y}$ $\\unicode{x41}$ $\\require{html}$",
    "$\\def\\h{\\hr}\\h ef{javascript:alert(1)}{x}$",
    "a \\$x\\href{javascript:alert(1)}{y}$ b",
    "\\(\\href{javascript:alert(1)}{x}\\) \\[\\href{javascript:alert(1)}{x}\\]",
    "\\begin{equation}\\href{javascript:alert(1)}{x}\\end{equation}",
    "<script>alert(1)</script><style>*{}</style><iframe src=//x></iframe>",
    '<a href="javascript:alert(1)">x</a> <svg onload=alert(1)>',
    "| a | b |\n|---|---|\n| <img src=x onerror=alert(1)> | [x](javascript:alert(1)) |",
]
FRAGMENTS = [
    "`", "``", "```", "~~~", "    ", "  ", "\t", "- ", "* ", "1. ", "> ", "# ", "\n", "\n\n", "\r",
    "\r\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "$", "$$", "\\", "\\$", "\\(", "\\)", "\\[",
    "\\]", "\\begin{x}", "\\end{x}", IMG, "<script>alert(1)</script>", "<", ">", "&", "&#115;",
    "&colon;", '"', "'", "[x](javascript:alert(1))", "![i](http://127.0.0.1:9/p.png)", "](", "[", "]",
    "(", ")", "[r]: javascript:alert(1)\n", "javascript:", "data:text/html,", "<http://a>",
    "\\href{javascript:alert(1)}{x}", "\\def\\x{}", "|a|b|\n|-|-|\n", "*", "_", "word ", "x",
]  # fmt: skip


def text_segments(element: object, skipped: bool = False) -> list[tuple[str, bool, object]]:
    """Every run of text MathJax would read as one string: (text, inside code or math, its element)."""
    segments: list[tuple[str, bool, object]] = []
    tag = getattr(element, "tag", "")
    classes = getattr(element, "attrib", {}).get("class", "").split()
    inside = skipped or tag in MATH_SKIPPED or "hm-math" in classes
    if getattr(element, "text", None):
        segments.append((element.text, inside, element))  # type: ignore[attr-defined]
    for child in element:  # type: ignore[attr-defined]
        segments += text_segments(child, inside)
        if child.tail:
            segments.append((child.tail, inside, element))
    return segments


def assert_safe(html: str) -> None:
    """What a trusted frontend may be handed, judged by html5lib's reading of the HTML."""
    root = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    for element in root.iter():
        tag = element.tag
        if not isinstance(tag, str) or tag == "DOCUMENT_FRAGMENT":
            continue
        assert tag in SAFE_TAGS, f"<{tag}> in {html!r}"
        for name, value in element.attrib.items():
            assert name in SAFE_ATTRIBUTES.get(tag, set()), f"{tag}[{name}] in {html!r}"
            if name == "href":
                scheme = urlsplit(unescape(value).strip()).scheme.lower()
                assert value.startswith("#") or scheme in {"http", "https", "mailto"}, html
            if name == "style":
                assert re.fullmatch(r"text-align:\s*(left|right|center);?", value), html
    for text, inside, element in text_segments(root):
        if inside:
            if "hm-math" in element.attrib.get("class", ""):  # type: ignore[attr-defined]
                assert not DANGEROUS_TEX.search(text), f"live math {text!r} in {html!r}"
        else:
            # Outside code and math, a "$" or "\" is the only text of its element: MathJax never
            # pairs strings across elements, so no delimiter (or \begin) can form.
            assert not re.search(r"[$\\]", text) or len(text) == 1, f"{text!r} in {html!r}"


@pytest.mark.parametrize("attack", ATTACKS)
def test_known_attacks_render_safely(attack: str) -> None:
    html = render_markdown(attack)
    assert_safe(html)
    assert html.strip(), "the attack's text is shown, not silently dropped"


@pytest.mark.parametrize("attack", ATTACKS)
def test_known_attacks_stay_safe_in_every_live_block(attack: str) -> None:
    blocks, tail = split_blocks(attack)
    for block in [*blocks, tail]:
        assert_safe(render_markdown(block))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=30).map("".join))
def test_generated_markdown_renders_safely(text: str) -> None:
    assert_safe(render_markdown(text))
    blocks, tail = split_blocks(text)
    assert "".join(blocks) + tail == text  # the live view's blocks lose nothing
    for block in blocks:
        assert_safe(render_markdown(block))


def test_what_users_value_still_renders() -> None:
    html = render_markdown(
        "# Title\n\nSome **bold** and `code` and [a link](https://example.com).\n\n- one\n- two\n\n"
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n```python\ndef f():\n    return 1\n```\n\n"
        "Inline $e^{i\\pi}+1=0$ and display:\n\n$$\\int_0^1 x\\,dx$$\n"
    )
    root = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    find = root.findall
    assert [h.text for h in find(".//h1")] == ["Title"]
    assert [a.get("href") for a in find(".//a")] == ["https://example.com"]
    assert len(find(".//li")) == 2 and len(find(".//td")) == 2
    assert [td.get("style") for td in find(".//td")] == ["text-align:left", "text-align:right"]
    assert find(".//pre[@class='hm-code']/code/span[@class='k']")[0].text == "def"
    math = [e.text for e in root.iter() if e.get("class") == "hm-math"]
    assert math == ["$e^{i\\pi}+1=0$", "$$\\int_0^1 x\\,dx$$"]  # delimiters kept for MathJax
    assert_safe(html)


def test_images_become_links_or_text_never_fetches() -> None:
    html = render_markdown("![chart](https://example.com/c.png) ![x](javascript:alert(1))")
    root = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    assert not root.findall(".//img")
    links = root.findall(".//a")
    assert [(a.get("href"), a.text) for a in links] == [("https://example.com/c.png", "[image: chart]")]


def test_first_code_block_is_the_parsers_fence() -> None:
    assert first_code_block("x\n```py\nprint(1)\n```\n") == "print(1)"
    assert first_code_block("- item\n\n  ~~~\n  nested\n  ~~~\n") == "nested"
    assert first_code_block("```a`b\nnot a fence\n") is None  # a backtick in the info string


def test_split_blocks_breaks_lines_only_where_commonmark_does() -> None:
    blocks, tail = split_blocks("a\u2028\u2028b\x0b\x0bc\r\n\r\nd")
    assert blocks == ["a\u2028\u2028b\x0b\x0bc\r\n\r\n"] and tail == "d"


RACE = """
import threading
from heroku_magic.render.markdown import render_markdown
barrier, failures = threading.Barrier(8), []
def work(i):
    barrier.wait()
    try:
        assert 'class="k' in render_markdown(f"```python\\ndef f{i}(): pass\\n```\\n\\n```js\\nlet x = {i}\\n```")
    except Exception as exc:
        failures.append(repr(exc))
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(failures)
"""


def test_first_renders_on_many_threads_at_once_all_succeed() -> None:
    # Exploration cards render on worker threads; Pygments' lazy loading once raced there.
    for _ in range(3):  # a fresh interpreter each time: the race is on first use
        out = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "[]", out.stdout


def test_prices_stay_text_and_blocked_display_math_is_a_code_block() -> None:
    root = html5lib.parseFragment(
        render_markdown("It costs $5 and $6.\n\n$$\\class{x}{y}$$\n\nafter"),
        treebuilder="etree",
        namespaceHTMLElements=False,
    )
    assert not [e for e in root.iter() if e.get("class") == "hm-math"]
    assert "".join(root.find("p").itertext()) == "It costs $5 and $6."
    assert "".join(root.find("pre/code").itertext()) == "$$\\class{x}{y}$$"


# -- tool cards: a tool's name, arguments and result are model text too -------------------------

hostile_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=12).map("".join)
hostile_json = st.dictionaries(hostile_text, st.one_of(hostile_text, st.integers()), max_size=3).map(
    json.dumps
)


@settings(max_examples=300, deadline=None)
@given(
    hostile_text, st.one_of(hostile_text, hostile_json), st.one_of(hostile_text, hostile_json), st.booleans()
)
def test_tool_cards_render_hostile_names_arguments_and_results_safely(
    name: str, arguments: str, content: str, is_error: bool
) -> None:
    card = tool_card_html(ToolCall("c1", name, arguments), ToolResult("c1", name, content, is_error=is_error))
    # The card's own markup (details/summary) wraps renderer output: judge what is inside it.
    assert card.startswith('<details class="hm-tool"><summary>') and card.count("</details>") == 1
    inner = card.replace('<details class="hm-tool"><summary>', "<div><p>").replace("</summary>", "</p>")
    assert_safe(inner.replace("</details>", "</div>"))
