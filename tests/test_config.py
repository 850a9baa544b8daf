"""Settings from Heroku's config vars, attachment prefixes, and the key never shown whole."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heroku_magic import ConfigurationError, Settings
from heroku_magic.config import Secret, attachments, mask_key, normalize_attachment

KEY = "inf-0123456789abcdef-secret-9f3a"


def test_reads_the_default_attachment() -> None:
    env = {
        "INFERENCE_URL": "https://us.inference.heroku.com/",
        "INFERENCE_KEY": KEY,
        "INFERENCE_MODEL_ID": "claude-4-5-sonnet",
    }
    settings = Settings.from_env(environ=env)
    assert settings.base_url == "https://us.inference.heroku.com/v1"
    assert settings.root_url == "https://us.inference.heroku.com"
    assert settings.model_id == "claude-4-5-sonnet"


def test_url_already_ending_in_v1_gets_it_once() -> None:
    settings = Settings(url="https://us.inference.heroku.com/v1/", key=KEY)
    assert settings.base_url == "https://us.inference.heroku.com/v1"


def test_model_id_is_optional_on_the_standard_plan() -> None:
    settings = Settings.from_env(environ={"INFERENCE_URL": "https://x.test", "INFERENCE_KEY": KEY})
    assert settings.model_id is None


@pytest.mark.parametrize("name", ["INFERENCE_CYAN", "inference-cyan", "INFERENCE_CYAN_URL"])
def test_attachment_prefixes_by_name(name: str) -> None:
    env = {"INFERENCE_CYAN_URL": "https://c.test", "INFERENCE_CYAN_KEY": KEY, "INFERENCE_CYAN_MODEL_ID": "m"}
    settings = Settings.from_env(name, environ=env)
    assert (settings.url, settings.model_id, settings.attachment) == ("https://c.test", "m", "INFERENCE_CYAN")


def test_diffusion_prefix() -> None:
    env = {"DIFFUSION_URL": "https://d.test", "DIFFUSION_KEY": KEY}
    assert Settings.from_env("DIFFUSION", environ=env).url == "https://d.test"
    assert normalize_attachment("diffusion_key") == "DIFFUSION"


# Names as people type them: the attachment (any case, dashes), or one of its config vars.
typed_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,20}(_URL|_KEY|_MODEL_ID|_url)?", fullmatch=True)


@given(st.one_of(typed_names, st.text(max_size=30)))
def test_an_attachment_name_is_a_config_var_prefix_or_refused_with_its_name(name: str) -> None:
    try:
        prefix = normalize_attachment(name)
    except ConfigurationError as exc:
        assert repr(name) in str(exc) and "INFERENCE_CYAN" in str(exc)
        # Refused only when no shell variable could be named after it (Python's identifier rules
        # on the ASCII, upper-cased name are the oracle).
        guess = name.strip().upper().replace("-", "_")
        assert not (guess.isascii() and guess.isidentifier() and guess[0].isalpha())
        return
    assert prefix.isascii() and prefix.isidentifier() and prefix[0].isalpha() and prefix == prefix.upper()
    assert normalize_attachment(prefix) == prefix
    env = {f"{prefix}_URL": "https://c.test", f"{prefix}_KEY": KEY}
    assert Settings.from_env(name, environ=env).attachment == prefix


def test_missing_variables_name_them_and_how_to_get_them() -> None:
    env = {"INFERENCE_CYAN_URL": "https://c.test", "INFERENCE_CYAN_KEY": KEY}
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(environ=env)
    message = str(info.value)
    assert "INFERENCE_URL and INFERENCE_KEY are not set" in message
    assert "heroku ai:models:create" in message and "python -m heroku_magic.simulator" in message
    assert "INFERENCE_CYAN" in message  # points at the attachment that is there


def test_bad_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="http"):
        Settings(url="us.inference.heroku.com", key=KEY)


def test_key_never_appears_in_repr_str_or_errors() -> None:
    settings = Settings(url="https://x.test", key=KEY)
    for text in (repr(settings), str(settings), f"{settings}", repr([settings])):
        assert KEY not in text
        assert "inf-…9f3a" in text
    with pytest.raises(ConfigurationError) as info:
        Settings(url="nope", key=KEY)
    assert KEY not in str(info.value)


def test_mask_key() -> None:
    assert mask_key(KEY) == "inf-…9f3a"
    assert mask_key("short") == "…"
    assert mask_key("") == ""


def test_attachments_lists_complete_pairs() -> None:
    env = {"INFERENCE_URL": "u", "INFERENCE_KEY": "k", "DIFFUSION_URL": "u", "OTHER_URL": "u"}
    assert attachments(env) == ["INFERENCE"]


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("inf-0123456789\nabcdef-secret-9f3a", "contains a line break"),
        ("inf-0123456789\rabcdef-secret-9f3a", "contains a line break"),
        ("inf-0123456789 abcdef-secret-9f3a", "contains whitespace"),
        ("inf-0123456789\tabcdef-secret-9f3a", "contains whitespace"),
        ("inf-0123456789\x00abcdef-secret-9f3a", "contains a control character"),
        ("inf-0123456789\x7fabcdef-secret-9f3a", "contains a control character"),
        ("inf-0123456789éabcdef-secret-9f3a", "contains a non-ASCII character"),
        ("inf-0123456789\u200babcdef-secret-9f3a", "contains a non-ASCII character"),
    ],
)
def test_a_key_no_header_can_carry_is_refused_by_name_never_shown(bad: str, problem: str) -> None:
    env = {"INFERENCE_CYAN_URL": "https://c.test", "INFERENCE_CYAN_KEY": bad}
    for build in (
        lambda: Settings.from_env("INFERENCE_CYAN", environ=env),
        lambda: Settings(url="https://c.test", key=bad, attachment="INFERENCE_CYAN"),
    ):
        with pytest.raises(ConfigurationError) as info:
            build()
        message = str(info.value)
        assert message.startswith(f"INFERENCE_CYAN_KEY {problem} (character 15 of ")
        assert "\n" not in message and "0123456789" not in message and "secret" not in message


def test_surrounding_whitespace_from_the_environment_is_dropped() -> None:
    settings = Settings.from_env(environ={"INFERENCE_URL": "https://x.test", "INFERENCE_KEY": f" {KEY}\n"})
    assert settings.key.reveal() == KEY


def test_the_key_is_a_secret_that_only_reveal_shows() -> None:
    settings = Settings(url="https://x.test", key=KEY)
    assert isinstance(settings.key, Secret) and settings.key.reveal() == KEY
    shown = [repr(settings.key), str(settings.key), f"{settings.key}", repr(vars(settings)), repr(settings)]
    for text in shown:
        assert KEY not in text and "0123456789abcdef" not in text
    assert repr(settings.key) == "Secret('inf-…9f3a')" and settings.masked_key == "inf-…9f3a"
    with pytest.raises(TypeError):
        vars(settings.key)  # slots: there is no __dict__ to show either


def test_secrets_compare_and_hash_by_value() -> None:
    assert Secret(KEY) == Secret(KEY) and hash(Secret(KEY)) == hash(Secret(KEY))
    assert Secret(KEY) != Secret(KEY + "x")
    assert Secret(KEY) != KEY  # a Secret is never equal to the plain string
    assert Settings(url="https://x.test", key=KEY) == Settings(url="https://x.test", key=Secret(KEY))
    assert (
        len({Settings(url="https://x.test", key=KEY), Settings(url="https://x.test", key=Secret(KEY))}) == 1
    )
