"""Images for %%heroku_chat: each kind of input, the guards, downscaling, the wire shape and display."""

from __future__ import annotations

import base64
import http.server
import io
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fakes import FakeClient, answer
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.interactiveshell import InteractiveShell

from heroku_magic import ChatResult, Conversation
from heroku_magic.errors import OptionsError
from heroku_magic.events import content_text, wire_content
from heroku_magic.image_sizes import DEFAULT_MAX_BYTES, encoded_size, human_size
from heroku_magic.images import META, content, image_format, image_part
from heroku_magic.render.static import history_html
from heroku_magic.simulator import Simulator

PIL_Image = pytest.importorskip("PIL.Image")
from pictures import GIF, decoded, noise_png, png  # noqa: E402
from test_magics import Run  # noqa: E402

WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 16
BMP = b"BM" + b"\x00" * 40


class _Handler(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        if self.path == "/slow.png":
            time.sleep(1.0)
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A local HTTP server on 127.0.0.1: (base URL, the files it serves by path)."""
    files: ClassVar[dict[str, bytes]] = {}
    handler = type("Handler", (_Handler,), {"files": files})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    httpd.shutdown()
    httpd.server_close()


# -- formats and sizes ------------------------------------------------------------------------------


def test_format_comes_from_the_bytes_not_the_name() -> None:
    assert image_format(png()) == "image/png"
    assert image_format(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert image_format(GIF) == "image/gif"
    assert image_format(WEBP) == "image/webp"
    assert image_format(BMP) is None and image_format(b"") is None


def test_sizes_read_as_people_write_them() -> None:
    assert DEFAULT_MAX_BYTES == 5 * 1024 * 1024
    assert human_size(512) == "512 B"
    assert human_size(120 * 1024) == "120 kB"
    assert human_size(DEFAULT_MAX_BYTES) == "5 MB"
    assert human_size(int(7.2 * 1024 * 1024)) == "7.2 MB"


# -- inputs ------------------------------------------------------------------------------------------


def test_a_file_becomes_a_data_url_part_named_by_its_file_name(tmp_path: Path) -> None:
    data = png()
    (tmp_path / "cat.png").write_bytes(data)
    part = image_part(str(tmp_path / "cat.png"))
    assert part["type"] == "image_url"
    assert decoded(part) == ("image/png", data)
    assert part[META]["name"] == "cat.png" and part[META]["bytes"] == len(data)
    assert content_text((part,)) == f"[image: cat.png, {len(data)} B]"
    assert decoded(image_part(tmp_path / "cat.png")) == ("image/png", data)  # a Path too


def test_the_extension_does_not_decide_the_format(tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(b"\xff\xd8\xff\xe0 a jpeg")
    assert decoded(image_part(str(tmp_path / "photo.png")))[0] == "image/jpeg"
    (tmp_path / "notes.png").write_text("just text")
    with pytest.raises(OptionsError, match=r"notes.png: an unknown format, not a PNG, JPEG, GIF or WebP"):
        image_part(str(tmp_path / "notes.png"))


def test_a_url_is_downloaded_and_inlined(server: tuple[str, dict[str, bytes]]) -> None:
    base, files = server
    files["/chart.png"] = png()
    part = image_part(f"{base}/chart.png")
    assert decoded(part) == ("image/png", files["/chart.png"])
    assert part[META]["name"] == f"{base}/chart.png"


def test_a_url_as_is_is_passed_through_unchanged(server: tuple[str, dict[str, bytes]]) -> None:
    base, _files = server
    part = image_part(f"{base}/not-fetched.png", url_as_is=True)
    assert part["image_url"] == {"url": f"{base}/not-fetched.png"}
    assert content_text((part,)) == f"[image: {base}/not-fetched.png]"


def test_url_failures_are_one_line(server: tuple[str, dict[str, bytes]]) -> None:
    base, files = server
    with pytest.raises(OptionsError, match=r"missing.png: HTTP 404"):
        image_part(f"{base}/missing.png")
    files["/slow.png"] = png()
    with pytest.raises(OptionsError, match=r"slow.png: (no answer within 0.2 s|cannot fetch it)"):
        image_part(f"{base}/slow.png", timeout=0.2)
    files["/big.png"] = png() + b"\x00" * 5000
    with pytest.raises(OptionsError, match=r"big.png: .* over the 1 kB download limit"):
        image_part(f"{base}/big.png", max_bytes=100, download_limit=1024)
    files["/page.png"] = b"<html>not an image</html>"
    with pytest.raises(OptionsError, match=r"page.png: an unknown format"):
        image_part(f"{base}/page.png")


def test_notebook_variables_bytes_pil_figure_and_ipython_image() -> None:
    from IPython.display import Image
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1))
    figure.add_subplot().plot([1, 2, 3])
    namespace = {
        "raw": png(),
        "picture": PIL_Image.new("RGBA", (5, 5), "blue"),
        "fig": figure,
        "shown": Image(data=png(color="green")),
    }
    parts = {name: image_part(name, namespace=namespace) for name in namespace}
    assert decoded(parts["raw"]) == ("image/png", namespace["raw"])
    assert decoded(parts["shown"]) == ("image/png", namespace["shown"].data)
    for name in ("picture", "fig"):
        mime, data = decoded(parts[name])
        assert mime == "image/png"
        assert PIL_Image.open(io.BytesIO(data)).size[0] > 0
    assert {name: part[META]["name"] for name, part in parts.items()} == {n: n for n in namespace}
    # objects directly, from Python
    assert decoded(image_part(bytearray(GIF)))[0] == "image/gif"
    assert decoded(image_part(figure))[0] == "image/png"


def test_an_ipython_image_by_url_is_fetched(server: tuple[str, dict[str, bytes]]) -> None:
    from IPython.display import Image

    base, files = server
    files["/remote.png"] = png()
    part = image_part(Image(url=f"{base}/remote.png"), name="remote")
    assert decoded(part) == ("image/png", files["/remote.png"])


def test_plt_is_the_current_pyplot_figure_only_when_pyplot_is_imported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from matplotlib.figure import Figure

    monkeypatch.delitem(sys.modules, "matplotlib.pyplot", raising=False)
    with pytest.raises(
        OptionsError, match=r"--image plt: not found \(tried .*plt \(pyplot is not imported\)"
    ):
        image_part("plt", namespace={})
    assert "matplotlib.pyplot" not in sys.modules  # never imported for the user

    figure = Figure()
    figure.add_subplot().plot([0, 1])
    pyplot = types.ModuleType("matplotlib.pyplot")
    open_figures: list[int] = []
    pyplot.get_fignums = lambda: open_figures  # type: ignore[attr-defined]
    pyplot.gcf = lambda: figure  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", pyplot)
    with pytest.raises(OptionsError, match=r"no pyplot figure is open"):
        image_part("plt", namespace={"plt": pyplot})
    open_figures.append(1)
    assert decoded(image_part("plt", namespace={}))[0] == "image/png"
    assert decoded(image_part("plt", namespace={"plt": pyplot}))[0] == "image/png"


# -- guards ------------------------------------------------------------------------------------------


def test_guards_each_one_line(tmp_path: Path) -> None:
    with pytest.raises(OptionsError, match=r"^--image missing.png: no such file \(tried a file, an http"):
        image_part("missing.png", namespace={})
    with pytest.raises(OptionsError, match=r"^--image nothing: not found \(tried a file, an http\(s\) URL"):
        image_part("nothing", namespace={})
    with pytest.raises(OptionsError, match=r"^--image bmp: a BMP image, not a PNG, JPEG, GIF or WebP image$"):
        image_part("bmp", namespace={"bmp": BMP})
    with pytest.raises(OptionsError, match=r"^--image empty: empty, not a PNG"):
        image_part("empty", namespace={"empty": b""})
    with pytest.raises(OptionsError, match=r"^--image numbers: a list, not bytes, a PIL image"):
        image_part("numbers", namespace={"numbers": [1, 2]})
    with pytest.raises(OptionsError, match=r"not a file"):
        image_part(str(tmp_path))


def test_an_image_over_the_limit_is_refused_without_pillow(no_pillow: None) -> None:
    data = GIF + b"\x00" * 2000
    with pytest.raises(
        OptionsError,
        match=r"^--image big: 2 kB \(3 kB as base64\) is over the 1 kB limit, which Bedrock measures on "
        r"the base64 \(install Pillow",
    ):
        image_part("big", namespace={"big": data}, max_bytes=1024)
    # The limit is on the base64 text, as the server measures it: at it, sent; a byte over, refused.
    at_limit = encoded_size(len(data))
    assert decoded(image_part("big", namespace={"big": data}, max_bytes=at_limit))[1] == data
    with pytest.raises(OptionsError, match="over the"):
        image_part("big", namespace={"big": data}, max_bytes=at_limit - 1)
    assert len(base64.b64encode(data)) == at_limit  # the oracle: the real encoding


def test_an_image_over_the_limit_is_downscaled_with_pillow() -> None:
    data = noise_png(120)
    limit = len(data) // 3
    part = image_part("noise", namespace={"noise": data}, max_bytes=limit)
    mime, smaller = decoded(part)
    assert mime == "image/png" and len(base64.b64encode(smaller)) <= limit
    width, height = PIL_Image.open(io.BytesIO(smaller)).size
    assert width < 120 and height < 120
    note = part[META]["note"]
    assert note.startswith("noise was downscaled from 120×120") and f"to {width}×{height}" in note
    assert part[META]["bytes"] == len(smaller)
    assert META not in wire_content((part,))[0]  # type: ignore[operator]
    # JPEG stays JPEG
    buffer = io.BytesIO()
    PIL_Image.open(io.BytesIO(data)).save(buffer, format="JPEG", quality=95)
    jpeg = image_part("photo", namespace={"photo": buffer.getvalue()}, max_bytes=len(buffer.getvalue()) // 2)
    assert decoded(jpeg)[0] == "image/jpeg"


def test_a_damaged_image_over_the_limit_says_it_cannot_be_read() -> None:
    with pytest.raises(OptionsError, match=r"^--image broken: .* cannot be read to downscale it"):
        image_part("broken", namespace={"broken": b"\x89PNG\r\n\x1a\n" + b"\x00" * 3000}, max_bytes=1000)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=64),
        st.sampled_from(
            [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"RIFF\0\0\0\0WEBP"]
        ).flatmap(lambda head: st.binary(max_size=64).map(lambda tail: head + tail)),
    )
)
def test_any_bytes_are_refused_with_a_reason_or_sent_exactly(data: bytes) -> None:
    try:
        part = image_part(data, name="x", max_bytes=64)
    except OptionsError as exc:
        assert str(exc).startswith("--image x: ")
        assert (
            "not a PNG, JPEG, GIF or WebP image" in str(exc) or "limit" in str(exc) or "downscale" in str(exc)
        )
        return
    mime, sent = decoded(part)
    assert sent == data and mime == image_format(data)


# -- the conversation: wire, history, display -------------------------------------------------------


def test_content_is_text_first_then_parts_and_history_keeps_them(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(png())
    message = content("What is this?", str(tmp_path / "a.png"), GIF)
    assert [part["type"] for part in message] == ["text", "image_url", "image_url"]
    client = FakeClient(answer("A red box."), answer("ok"))
    chat = Conversation(client=client)
    chat.send(message)
    chat.send("And the second?")
    for messages, _options in client.requests:
        sent = messages[0]["content"]
        assert sent[0] == {"type": "text", "text": "What is this?"}
        assert sent[1] == {"type": "image_url", "image_url": {"url": message[1]["image_url"]["url"]}}
        assert all(set(part) <= {"type", "text", "image_url"} for part in sent)
    assert (
        chat.turns[0].text
        == f"What is this?\n\n[image: a.png, {len(png())} B]\n\n[image: bytes, {len(GIF)} B]"
    )


def test_no_base64_in_markdown_or_html(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(png())
    chat = Conversation(client=FakeClient(answer("A red box.")))
    chat.send(content("Look", str(tmp_path / "a.png")))
    markdown, page = chat.to_markdown(), history_html(chat)
    assert "[image: a.png" in markdown and "[image: a.png" in page
    for text in (markdown, page):
        assert "base64" not in text and "data:image" not in text


# -- the magic ---------------------------------------------------------------------------------------


def test_magic_sends_the_cell_then_the_images(
    shell: InteractiveShell, simulator: Simulator, tmp_path: Path
) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(png())
    shell.user_ns["raw"] = GIF
    run = Run(shell, f"%%heroku_chat --no-widgets --image {path} --image raw\nWhat is it?\n")
    error, html = run.error, run.html
    last = simulator.last_request
    assert last is not None, error
    user = last["messages"][-1]
    assert user["role"] == "user"
    assert [part["type"] for part in user["content"]] == ["text", "image_url", "image_url"]
    assert user["content"][0]["text"] == "What is it?\n"
    assert decoded(user["content"][1]) == ("image/png", png())
    assert all(META not in part for part in user["content"])
    assert error is None
    turn = shell.magics_manager.registry["HerokuMagics"].session.conversation().turns[0]
    assert turn.text.endswith(f"[image: cat.png, {len(png())} B]\n\n[image: raw, {len(GIF)} B]")
    assert "base64" not in html


def test_magic_refuses_a_bad_image_before_sending(shell: InteractiveShell, simulator: Simulator) -> None:
    from IPython.core.error import UsageError

    error = Run(shell, "%%heroku_chat --image nowhere.png\nHi\n").error
    assert isinstance(error, UsageError)
    assert str(error).startswith("--image nowhere.png: no such file")
    assert not simulator.requests


def test_a_result_is_still_a_chat_result() -> None:
    chat = Conversation(client=FakeClient(answer("ok")))
    assert isinstance(chat.send(content("hi", GIF)), ChatResult)


def test_parts_built_by_hand_show_as_image_lines_without_their_data() -> None:
    encoded = base64.b64encode(GIF).decode()
    by_hand = [
        {"type": "text", "text": "Two pictures"},
        {"type": "image_url", "image_url": {"url": f"data:image/gif;base64,{encoded}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    chat = Conversation(client=FakeClient(answer("ok")))
    chat.send(by_hand)  # a list of parts, as the SDK takes
    assert chat.turns[0].text == (
        f"Two pictures\n\n[image: image/gif, {len(GIF)} bytes]\n\n[image: https://example.com/cat.png]"
    )
    assert encoded not in chat.to_markdown() and encoded not in history_html(chat)
    assert chat.messages()[0]["content"] == by_hand  # sent as given
