"""Model text to safe HTML: the one renderer every view of model output goes through.

Model output is untrusted (prompt injection, tool and agent results), and JupyterLab renders a
running kernel's outputs as trusted HTML. So model text is never handed to the frontend as Markdown
or raw HTML: :func:`render_markdown` parses it with a CommonMark parser (markdown-it-py, raw HTML
off), renders the HTML itself, and passes it through the allowlist sanitizer. What users value
stays: headings, lists, tables, links, code with Pygments highlighting, and math, which the
frontend's MathJax typesets. MathJax reads the page's text, so math is model text too: TeX that
makes links or sets attributes is shown as code, and every ``$`` or ``\\`` outside math sits in an
element of its own, where MathJax can never pair it into a delimiter. Images become links (a fetch
the user did not ask for can leak the conversation). The libraries are imported on first use, so
loading the extension stays fast.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from functools import cache
from html import escape
from typing import TYPE_CHECKING, Any

from .sanitize import CODE_CLASS, MATH_CLASS, safe_href, sanitize

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

# TeX commands that make links, set classes/styles/ids/attributes, load code or (re)define macros
# (a macro could spell any of the others, and MathJax keeps macros for the whole page).
_UNSAFE_TEX = re.compile(
    r"\\(?:href|url|class|style|cssId|data|attr|unicode|require|bbox|mmlToken|html|toggle|mathtip|"
    r"texttip|tooltip|def|gdef|edef|xdef|let|futurelet|newcommand|renewcommand|providecommand|"
    r"newenvironment|renewenvironment|DeclareMathOperator|csname|expandafter|string|char|catcode)"
    r"(?![A-Za-z])|\^\^"
)
_MATH_DELIMITERS = re.compile(r"([$\\])")
# CommonMark's line endings (Python's splitlines() also splits on \x0b, \x0c, \x1c-\x1e, \x85, \u2028...)
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LEXER_NAME = re.compile(r"[\w+#.-]{1,40}")


def render_markdown(text: str, *, highlight: bool = True) -> str:
    """Model Markdown as sanitized HTML, safe to hand to a trusted frontend.

    ``highlight=False`` leaves code uncoloured: the live view's unfinished block is rendered again
    at every paint, and Pygments would be most of that cost.
    """
    if not text:
        return ""
    return sanitize(_parser(highlight).render(text))


def plain_html(text: str) -> str:
    """Model text shown as preformatted plain text (``--format text``)."""
    return f"<pre>{inline_text(text)}</pre>\n" if text else ""


def fenced(text: str, info: str = "") -> str:
    """``text`` as a Markdown code block, in a fence longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}\n"


def with_code_style(html: str) -> str:
    """``html`` preceded by the stylesheet that colours its highlighted code, when it has some."""
    return (code_css() + html) if f'class="{CODE_CLASS}"' in html else html


def inline_text(content: str) -> str:
    """Text shown literally: escaped, and no ``$`` or ``\\`` can start or end math (each in its own span)."""
    return _MATH_DELIMITERS.sub(r"<span>\1</span>", escape(content, quote=False))


# Exploration cards render on worker threads, and Pygments' lazy loading of formatters and lexers
# is not thread-safe on first use (a card failed with "cannot import name 'HtmlFormatter'"): the
# libraries are set up once, under a lock, and lexers are looked up under it.
_LOCK = threading.Lock()


def _parser(highlight: bool = True) -> MarkdownIt:
    with _LOCK:
        return _build_parser(highlight)


@cache
def _build_parser(highlight: bool) -> MarkdownIt:
    import pygments.formatters.html
    import pygments.lexers  # noqa: F401
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": False, "highlight": _highlight if highlight else _plain_code})
    md.enable(["table", "strikethrough"])
    # Pandoc's rules: no space inside the delimiters, no digit after the closing one, so "$5 and $6"
    # stays a price instead of becoming math.
    dollarmath_plugin(md, allow_labels=False, allow_space=False, allow_digits=False, double_inline=True)
    rules: dict[str, Any] = {
        "text": lambda _renderer, tokens, i, *_: inline_text(tokens[i].content),
        "image": _image,
        "link_open": _link_open,
        "math_inline": lambda _renderer, tokens, i, *_: _math(tokens[i].content, "$", "span"),
        "math_inline_double": lambda _renderer, tokens, i, *_: _math(tokens[i].content, "$$", "span"),
        "math_block": lambda _renderer, tokens, i, *_: _math(tokens[i].content, "$$", "div") + "\n",
    }
    for name, rule in rules.items():
        md.add_render_rule(name, rule)  # bound as a method: the renderer comes first
    return md


def _math(content: str, delimiter: str, tag: str) -> str:
    source = f"{delimiter}{content}{delimiter}"
    if _UNSAFE_TEX.search(content) or "$" in content:
        code = f"<code>{inline_text(source)}</code>"  # shown as written; MathJax skips <code>
        return f"<pre>{code}</pre>" if tag == "div" else code
    return f'<{tag} class="{MATH_CLASS}">{escape(source, quote=False)}</{tag}>'


def _image(_renderer: Any, tokens: Sequence[Token], index: int, *_: Any) -> str:
    token = tokens[index]
    label = inline_text(f"[image: {token.content}]" if token.content else "[image]")
    src = str(token.attrGet("src") or "")
    return f'<a href="{escape(src)}">{label}</a>' if safe_href(src) else label


def _link_open(_renderer: Any, tokens: Sequence[Token], index: int, *_: Any) -> str:
    token = tokens[index]
    href = str(token.attrGet("href") or "")
    title = token.attrGet("title")
    attrs = f' href="{escape(href)}"' if safe_href(href) else ""
    attrs += f' title="{escape(str(title))}"' if title else ""
    return f"<a{attrs}>"


def _plain_code(code: str, lang: str, attrs: str) -> str:
    return f'<pre class="{CODE_CLASS}"><code>{escape(code, quote=False)}</code></pre>'


def _highlight(code: str, lang: str, attrs: str) -> str:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    name = lang.split(maxsplit=1)[0] if lang.strip() else ""
    try:
        if not _LEXER_NAME.fullmatch(name):
            raise ClassNotFound(name)
        with _LOCK:
            lexer = get_lexer_by_name(name)
        body = _coloured(lexer.get_tokens(code))
    except ClassNotFound:
        body = escape(code, quote=False)
    return f'<pre class="{CODE_CLASS}"><code>{body}</code></pre>'


def _coloured(tokens: Iterable[tuple[Any, str]]) -> str:
    """Escaped code with a span only around runs of tokens that have a colour.

    Pygments' HtmlFormatter wraps every token, whitespace and punctuation included: its HTML was six
    times the code's size, sent to the browser twice (live view, saved output) and kept in the notebook.
    """
    parts: list[str] = []
    run: list[str] = []
    current: str | None = None
    for token_type, value in (*tokens, (None, "")):
        colour = _colour_class(token_type) if token_type is not None else None
        if colour != current or token_type is None:
            text = escape("".join(run), quote=False)
            parts.append(f'<span class="{current}">{text}</span>' if current and text else text)
            run, current = [], colour
        run.append(value)
    return "".join(parts)


@cache
def _colour_class(token_type: Any) -> str | None:
    """The class of the coloured token type ``token_type`` falls under (Pygments' short name), if any."""
    from pygments.token import STANDARD_TYPES

    for name in _COLOURS:
        root = _token_type(name)
        if token_type in root:
            return str(STANDARD_TYPES[root])
    return None


def _token_type(dotted: str) -> Any:
    from pygments.token import Token

    kind = Token
    for part in dotted.split("."):
        kind = getattr(kind, part)
    return kind


# Token classes -> JupyterLab's editor colours, so code looks as it does in cells, in every theme.
_COLOURS = {
    "Keyword": "keyword",
    "Name.Builtin": "builtin",
    "Name.Function": "def",
    "Name.Class": "def",
    "Name.Decorator": "meta",
    "Literal.String": "string",
    "Literal.Number": "number",
    "Comment": "comment",
    "Operator": "operator",
    "Error": "error",
}


@cache
def code_css() -> str:
    """The stylesheet for highlighted code (a constant of ours, never built from model text)."""
    from pygments.token import STANDARD_TYPES

    # One rule per colour root: the highlighter only ever emits those classes (see _colour_class).
    rules = [
        f".{CODE_CLASS} .{STANDARD_TYPES[_token_type(name)]}{{color:var(--jp-mirror-editor-{colour}-color)}}"
        for name, colour in _COLOURS.items()
    ]
    comment = STANDARD_TYPES[_token_type("Comment")]
    return "<style>" + "".join(rules) + f".{CODE_CLASS} .{comment}{{font-style:italic}}</style>"


def split_blocks(markdown: str) -> tuple[list[str], str]:
    """Finished top-level blocks (ended by a blank line outside code fences) and the unfinished tail."""
    blocks: list[str] = []
    current: list[str] = []
    fence: str | None = None
    lines = _LINE.findall(markdown)
    for number, line in enumerate(lines):
        marker = _FENCE.match(line)
        rest = line[marker.end() :] if marker else ""
        if marker and fence is None and not (marker.group(1)[0] == "`" and "`" in rest):
            fence = marker.group(1)  # (a backtick fence's info string holds no backtick)
        elif marker and fence is not None and marker.group(1).startswith(fence) and not rest.strip(" \t\r\n"):
            fence = None  # a closing fence is the opening's character, as long or longer, and nothing else
        current.append(line)
        complete_line = line.endswith(("\n", "\r")) or number < len(lines) - 1
        if fence is None and not line.strip(" \t\r\n") and complete_line and "".join(current).strip():
            blocks.append("".join(current))
            current = []
    return blocks, "".join(current)


def first_code_block(markdown: str) -> str | None:
    """The body of the first fenced code block, as the Markdown parser reads it."""
    for token in _parser().parse(markdown):
        if token.type == "fence":
            return token.content.rstrip("\n")
    return None
