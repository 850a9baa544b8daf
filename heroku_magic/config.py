"""Settings: where Heroku Inference is and how to authenticate, read from Heroku's config vars.

A Heroku inference add-on attachment named ``NAME`` sets ``NAME_URL``, ``NAME_KEY`` and, on the
legacy per-model plans only, ``NAME_MODEL_ID``. The default attachment is ``INFERENCE``; others look
like ``INFERENCE_CYAN`` or ``DIFFUSION``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from .errors import ConfigurationError

DEFAULT_ATTACHMENT = "INFERENCE"

SETUP_HELP = (
    "Provision a model with `heroku ai:models:create -a APP claude-4-5-sonnet` and copy its config "
    "with `heroku config -a APP --shell`, or run the local simulator: `python -m heroku_magic.simulator`."
)


def mask_key(key: str) -> str:
    """A key shown safely: its prefix and last four characters, never the whole secret."""
    if len(key) <= 8:
        return "…" * bool(key)
    prefix = key.split("-", 1)[0] + "-" if "-" in key[:5] else ""
    return f"{prefix}…{key[-4:]}"


class Secret:
    """A secret string that ``repr``, ``str`` and ``vars`` show masked; ``reveal()`` gives it to the SDK."""

    __slots__ = ("_value",)  # no __dict__: vars() cannot show the value either

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: only for handing to the HTTP client, never for showing."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({mask_key(self._value)!r})"

    def __str__(self) -> str:
        return mask_key(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac  # here, not at the top: it loads OpenSSL, a cost %load_ext need not pay

        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot go into an HTTP header (what is wrong and where, never the key), or None."""
    for position, char in enumerate(key, 1):
        if char in "\r\n":
            what = "a line break"
        elif char.isspace():
            what = "whitespace"
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            what = "a control character"
        elif ord(char) > 0x7E:
            what = "a non-ASCII character"
        else:
            continue
        return f"contains {what} (character {position} of {len(key)})"
    return None


@dataclass(frozen=True, init=False)
class Settings:
    """How to reach one Heroku inference attachment; the key is a :class:`Secret`, masked in every repr."""

    url: str
    key: Secret
    model_id: str | None = None
    attachment: str = DEFAULT_ATTACHMENT

    def __init__(
        self,
        url: str,
        key: str | Secret,
        model_id: str | None = None,
        attachment: str = DEFAULT_ATTACHMENT,
    ) -> None:
        # Frozen: the fields are set the way dataclasses set them.
        object.__setattr__(self, "url", url)
        object.__setattr__(self, "key", key if isinstance(key, Secret) else Secret(key))
        object.__setattr__(self, "model_id", model_id)
        object.__setattr__(self, "attachment", attachment)
        parsed = urlparse(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigurationError(
                f"{self.attachment}_URL must be an http(s) URL such as https://us.inference.heroku.com, "
                f"got {self.url!r}"
            )
        if not self.key:
            raise ConfigurationError(f"{self.attachment}_KEY is empty. {SETUP_HELP}")
        # An HTTP library refusing the header would quote it, key and all, in its error.
        problem = key_problem(self.key.reveal())
        if problem is not None:
            raise ConfigurationError(
                f"{self.attachment}_KEY {problem}: a key is printable ASCII only. Copy it again, "
                f"e.g. with `heroku config:get -a APP {self.attachment}_KEY`."
            )

    def __repr__(self) -> str:
        return (
            f"Settings(url={self.url!r}, key={str(self.key)!r}, "
            f"model_id={self.model_id!r}, attachment={self.attachment!r})"
        )

    __str__ = __repr__

    @property
    def root_url(self) -> str:
        """The attachment's URL without a trailing slash or ``/v1``: where /available-models lives."""
        url = self.url.rstrip("/")
        return url[: -len("/v1")] if url.endswith("/v1") else url

    @property
    def base_url(self) -> str:
        """The OpenAI SDK's base URL: the attachment URL with ``/v1`` appended once."""
        return self.root_url + "/v1"

    @property
    def masked_key(self) -> str:
        """The key as it may be shown to a user."""
        return str(self.key)

    @classmethod
    def from_env(
        cls, attachment: str = DEFAULT_ATTACHMENT, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Read ``{attachment}_URL``, ``_KEY`` and the optional ``_MODEL_ID`` from the environment."""
        env = os.environ if environ is None else environ
        name = normalize_attachment(attachment)
        url, key = env.get(f"{name}_URL", "").strip(), env.get(f"{name}_KEY", "").strip()
        missing = [var for var, value in ((f"{name}_URL", url), (f"{name}_KEY", key)) if not value]
        if missing:
            found = attachments(env)
            hint = f" Attachments found in the environment: {', '.join(found)}." if found else ""
            raise ConfigurationError(
                f"Heroku Inference is not configured: {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set.{hint} {SETUP_HELP}"
            )
        model = env.get(f"{name}_MODEL_ID", "").strip() or None
        return cls(url=url, key=key, model_id=model, attachment=name)


def normalize_attachment(name: str) -> str:
    """``inference-cyan`` or ``INFERENCE_CYAN_URL`` -> ``INFERENCE_CYAN``; ConfigurationError for what no attachment is called."""
    prefix = name.strip().upper().replace("-", "_")
    for suffix in ("_URL", "_KEY", "_MODEL_ID"):
        if prefix.endswith(suffix):
            prefix = prefix[: -len(suffix)]
            break
    # Heroku names attachments with capital letters, digits and underscores, a letter first: the
    # prefix of their config vars. Anything else would only fail later as "_URL is not set".
    if not re.fullmatch(r"[A-Z][A-Z0-9_]*", prefix):
        raise ConfigurationError(
            f"{name!r} is not an add-on attachment name: use the prefix of its config vars, "
            "such as INFERENCE or INFERENCE_CYAN (`heroku addons -a APP` lists them)"
        )
    return prefix


def attachments(environ: Mapping[str, str] | None = None) -> list[str]:
    """Attachment names that have both a ``_URL`` and a ``_KEY`` variable set."""
    env = os.environ if environ is None else environ
    return sorted(
        name[: -len("_URL")]
        for name, value in env.items()
        if name.endswith("_URL") and value and env.get(name[: -len("_URL")] + "_KEY")
    )
