"""The allowlist every piece of HTML built from model text passes through before it is shown.

The Markdown renderer already emits only safe markup; this is the second line, with a maintained
sanitizer (nh3, the Rust ``ammonia`` library): tags, attributes, classes and URL schemes on an
allowlist, no event handlers, no ``style`` but table alignment, no ``<img>`` (a fetch the user
did not ask for can leak the conversation). ``nh3`` is imported on first use so that loading the
extension stays fast.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlsplit

TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th", "thead",
        "tr", "ul",
    }
)  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
SCHEMES = frozenset({"http", "https", "mailto"})
MATH_CLASS = "hm-math"
CODE_CLASS = "hm-code"


def safe_href(url: str) -> bool:
    """Whether a link target may be live: an http(s)/mailto URL or an in-page ``#fragment``."""
    if url.startswith("#"):
        return True
    scheme = urlsplit(url.strip()).scheme.lower()
    return scheme in SCHEMES


def _filter(element: str, attribute: str, value: str) -> str | None:
    if attribute == "href" and not safe_href(value):
        return None
    return value


@cache
def _classes() -> dict[str, set[str]]:
    from pygments.token import STANDARD_TYPES

    tokens = {name for name in STANDARD_TYPES.values() if name}
    return {"span": tokens | {MATH_CLASS}, "div": {MATH_CLASS}, "pre": {CODE_CLASS}}


def sanitize(html: str) -> str:
    """``html`` with everything off the allowlist removed (tags unwrapped, attributes dropped)."""
    import nh3

    options: dict[str, Any] = {
        "tags": set(TAGS),
        "clean_content_tags": {"script", "style"},
        "attributes": {tag: set(names) for tag, names in ATTRIBUTES.items()},
        "attribute_filter": _filter,  # relative URLs but "#fragment" stop here (nh3 passes them)
        "url_schemes": set(SCHEMES),
        "allowed_classes": _classes(),
        "filter_style_properties": {"text-align"},
        "link_rel": "noopener noreferrer nofollow",
    }
    return str(nh3.clean(html, **options))
