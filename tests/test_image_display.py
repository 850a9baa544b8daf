"""What a cell shows of its images (thumbnails, the footer's downscale note), the limits as the server
measures them, and where images are refused (%%heroku_agent, the panel's note)."""

from __future__ import annotations

import base64
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from heroku_magic.image_sizes import (
    DEFAULT_MAX_BYTES,
    MAX_SIDE,
    THUMBNAIL_SIDE,
    encoded_size,
    human_size,
    thumbnail,
)
from heroku_magic.images import META, image_part
from heroku_magic.simulator import Simulator

PIL_Image = pytest.importorskip("PIL.Image")
from pictures import GIF, jpeg, noise_png, png  # noqa: E402
from test_magics import Run  # noqa: E402


def sent_image(simulator: Simulator) -> bytes:
    """The image bytes of the last request's last content part."""
    last = simulator.last_request
    assert last is not None
    url = last["messages"][-1]["content"][-1]["image_url"]["url"]
    return base64.b64decode(url.partition(",")[2], validate=True)


# -- thumbnails -------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 900), st.integers(1, 900), st.sampled_from(["PNG", "JPEG", "GIF", "WEBP"]))
def test_a_thumbnail_is_a_small_png_of_the_same_shape(width: int, height: int, fmt: str) -> None:
    buffer = io.BytesIO()
    PIL_Image.new("RGB", (width, height), "green").save(buffer, format=fmt)
    small = thumbnail(image_part(buffer.getvalue(), name="x"))
    assert small is not None
    data, shown_width, shown_height = small
    decoded = PIL_Image.open(io.BytesIO(data))  # the oracle: Pillow reads what the cell will show
    assert decoded.format == "PNG" and decoded.size == (shown_width, shown_height)
    assert max(decoded.size) == min(THUMBNAIL_SIDE, max(width, height))
    # The shape is kept to within a pixel of rounding.
    assert abs(shown_width * height - shown_height * width) <= max(width, height)


def test_no_thumbnail_for_a_url_sent_as_it_is_or_a_damaged_image() -> None:
    assert thumbnail(image_part("https://example.com/cat.png", url_as_is=True)) is None
    broken = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAA"}}
    assert thumbnail(broken) is None
    assert thumbnail({"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}) is None


WIDE_PNG, SMALL_JPEG = png((400, 100)), jpeg((50, 50))  # made while Pillow is there


def test_without_pillow_only_a_small_png_is_shown_as_it_is(no_pillow: None) -> None:
    shown = thumbnail(image_part(WIDE_PNG, name="p"))
    assert shown == (WIDE_PNG, THUMBNAIL_SIDE, THUMBNAIL_SIDE // 4)  # the frontend scales it
    assert thumbnail(image_part(SMALL_JPEG, name="j")) is None  # its size is unknown without Pillow
    big = WIDE_PNG + b"\x00" * (70 * 1024)  # over 64 kB: not put in the notebook as it is
    assert thumbnail(image_part(big, name="b")) is None


# -- the limits, as the server measures them -------------------------------------------------------


def test_the_client_and_the_simulator_agree_on_the_5_mb_of_base64(
    no_pillow: None, shell: InteractiveShell, simulator: Simulator
) -> None:
    at_limit = GIF + b"\x00" * (DEFAULT_MAX_BYTES * 3 // 4 - len(GIF))
    assert len(base64.b64encode(at_limit)) == DEFAULT_MAX_BYTES
    shell.user_ns["at_limit"], shell.user_ns["over"] = at_limit, at_limit + b"\x00"
    error = Run(shell, "%%heroku_chat --no-widgets --image at_limit\nWhat is it?").error
    assert error is None and sent_image(simulator) == at_limit  # the simulator took it too
    simulator.reset()
    error = Run(shell, "%%heroku_chat --no-widgets --image over\nWhat is it?").error
    assert isinstance(error, UsageError) and "over the 5 MB limit" in str(error)
    assert simulator.requests == []  # refused before sending, as the server would have


def test_an_image_wider_than_8000_pixels_is_downscaled_and_accepted(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    wide = png((MAX_SIDE + 1, 3))
    shell.user_ns["wide"] = wide
    captured = Run(shell, "%%heroku_chat --no-widgets --image wide\nWhat is it?")
    error = captured.error
    assert error is None
    sent = PIL_Image.open(io.BytesIO(sent_image(simulator)))
    assert max(sent.size) <= MAX_SIDE
    assert f"PNG, {sent.size[0]}x{sent.size[1]} pixels" in captured.outputs[-1].data["text/plain"]


def test_image_max_bytes_is_a_setting_checked_when_set(shell: InteractiveShell) -> None:
    magics = shell.magics_manager.registry["HerokuMagics"]
    assert magics.image_max_bytes == DEFAULT_MAX_BYTES
    with pytest.raises(
        UsageError,
        match=r"^HerokuMagics.image_max_bytes: image_max_bytes must be at least 1024 bytes, got 10; it stays 5242880$",
    ):
        magics.image_max_bytes = 10
    assert magics.image_max_bytes == DEFAULT_MAX_BYTES
    shell.run_line_magic("config", "HerokuMagics.image_max_bytes = 2048")
    assert magics.image_max_bytes == 2048


# -- what the cell shows ----------------------------------------------------------------------------


def test_the_cell_shows_a_thumbnail_per_image_above_the_answer(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    shell.user_ns["photo"], shell.user_ns["chart"] = jpeg((1200, 600)), png((30, 90))
    captured = Run(shell, "%%heroku_chat --no-widgets --image photo --image chart\nCompare them")
    error = captured.error
    assert error is None
    outputs = captured.outputs
    images = [o for o in outputs if "image/png" in o.data]
    assert [o.data["text/plain"] for o in images] == [
        f"[image: photo, {human_size(len(jpeg((1200, 600))))}]",
        f"[image: chart, {human_size(len(png((30, 90))))}]",
    ]
    for output, size in zip(images, [(160, 80), (30, 90)], strict=True):
        shown = PIL_Image.open(io.BytesIO(base64.b64decode(output.data["image/png"])))
        assert shown.size == size
        assert output.metadata["image/png"] == {"width": size[0], "height": size[1]}
    # Thumbnails first, then the answer; the answer's HTML holds no image data at all.
    assert [("image/png" in o.data, "text/html" in o.data) for o in outputs] == [
        (True, False),
        (True, False),
        (False, True),
    ]
    html = outputs[-1].data["text/html"]
    assert "Image 1: JPEG, 1200x600 pixels" in html and "<img" not in html and "base64" not in html


def test_a_downscale_is_said_in_the_footer_not_printed(shell: InteractiveShell, simulator: Simulator) -> None:
    data = noise_png(120)
    shell.run_line_magic("config", f"HerokuMagics.image_max_bytes = {encoded_size(len(data)) // 3}")
    shell.user_ns["big"] = data
    captured = Run(shell, "%%heroku_chat --no-widgets --image big\nHi")
    error = captured.error
    assert error is None
    turn = shell.magics_manager.registry["HerokuMagics"].session.conversation().turns[0]
    note = turn.content[1][META]["note"]
    assert note.startswith("big was downscaled from 120×120")
    assert turn.result.notices == (note,)
    assert note in captured.outputs[-1].data["text/html"]  # the footer of the output the notebook keeps
    assert (
        captured.stdout.count(note) == 1
    )  # without widgets outside a kernel, the streamed text says it once


def test_the_agent_refuses_images_with_its_reason(shell: InteractiveShell, simulator: Simulator) -> None:
    shell.user_ns["pic"] = png((2, 2))
    for flags in ("--image pic", "--image-url-as-is"):
        error = Run(shell, f"%%heroku_agent {flags}\nWhat is it?").error
        assert isinstance(error, UsageError)
        assert str(error) == (
            "%%heroku_agent does not take --image: whether Heroku's agents endpoint accepts images is "
            "unconfirmed; send images with %%heroku_chat --image"
        )
    assert simulator.requests == []


def test_a_model_without_vision_is_refused_before_the_cell_shows_anything(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    shell.user_ns["pic"] = png((2, 2))
    captured = Run(shell, "%%heroku_chat -m claude-3-5-haiku --image pic\nWhat is it?")
    error = captured.error
    assert isinstance(error, UsageError) and str(error).startswith("claude-3-5-haiku takes no images")
    assert captured.outputs == [] and simulator.requests == []
