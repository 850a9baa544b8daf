"""``%%heroku_chat --image`` in a real JupyterLab + Chromium: the thumbnail a user sees above the answer.

The notebook makes a 640x320 picture, left half red and right half blue, and asks about it. The
test reads what Chromium decoded and laid out: one image output of 160x80 pixels above the static
answer, whose own pixels (read back through a canvas) are red on the left and blue on the right, so
the thumbnail is the picture sent and not some other image; and the answer's sanitized HTML holds
no image at all (the thumbnail is the product's own ``image/png`` output, not HTML).

Run: ``pytest tests/browser -m browser -q -p no:cacheprovider`` (needs Debian's chromium).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from heroku_magic.simulator import Simulator

from .harness import STATIC, Lab, NotebookPage, own_notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

IMAGES_NOTEBOOK, IMAGES_WORKSPACE = "images.ipynb", "images"
IMAGE_CELLS = (
    "%load_ext heroku_magic",
    "import io\nfrom PIL import Image\n"
    "picture = Image.new('RGB', (640, 320), 'red')\n"
    "picture.paste((0, 0, 255), (320, 0, 640, 320))\n"
    "buffer = io.BytesIO()\npicture.save(buffer, format='PNG')\npng = buffer.getvalue()",
    "%%heroku_chat --image png\nWhat is in this picture?",
)
ASK = 2
THUMBNAILS = ".jp-Cell-outputArea .jp-RenderedImage img"

# What Chromium shows of each image output: its decoded and laid-out size, where it sits, and the
# colour of a pixel near the left and right edges (drawn onto a canvas from the decoded image).
READ_IMAGES = """([cell, selector]) => {
  const root = document.querySelectorAll('.jp-Notebook .jp-Cell')[cell];
  return [...root.querySelectorAll(selector)].map((img) => {
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(img, 0, 0);
    const pixel = (x) => [...context.getImageData(x, Math.floor(img.naturalHeight / 2), 1, 1).data];
    const box = img.getBoundingClientRect();
    return {
      natural: [img.naturalWidth, img.naturalHeight], shown: [box.width, box.height], top: box.top,
      src: img.src.slice(0, 22), left: pixel(2), right: pixel(img.naturalWidth - 3),
    };
  });
}"""


@pytest.fixture(scope="module")
def notebook(lab: Lab, browser: Browser, artifacts: Path) -> Iterator[NotebookPage]:
    """The images notebook open in Chromium, its picture made; removed from the root after."""
    with own_notebook(
        browser,
        lab,
        artifacts,
        IMAGES_NOTEBOOK,
        IMAGES_WORKSPACE,
        IMAGE_CELLS,
        run_first=(0, 1),
        failure_shot="browser-images-failure.png",
    ) as nb:
        yield nb


def test_the_thumbnail_of_the_picture_sent_shows_above_the_answer(
    notebook: NotebookPage, browser_simulator: Simulator
) -> None:
    notebook.run(ASK, wait=True)
    notebook.wait_for(ASK, STATIC, "the answer")
    images: list[dict[str, Any]] = notebook.page.evaluate(READ_IMAGES, [ASK, THUMBNAILS])
    notebook.check(len(images) == 1, f"one thumbnail expected, the cell shows {images}")
    [thumbnail] = images
    assert thumbnail["src"] == "data:image/png;base64,"
    assert thumbnail["natural"] == [160, 80] and thumbnail["shown"] == [160, 80]
    red, blue = thumbnail["left"], thumbnail["right"]
    assert red[0] > 200 and red[1] < 40 and red[2] < 40 and red[3] == 255, red
    assert blue[0] < 40 and blue[1] < 40 and blue[2] > 200 and blue[3] == 255, blue
    static = notebook.static(ASK)
    assert thumbnail["top"] < static.bounding_box()["y"]  # type: ignore[index]
    assert static.locator("img").count() == 0
    assert "Image 1: PNG, 640x320 pixels" in static.inner_text()
    # What reached the simulator is the whole picture, not the thumbnail.
    last = browser_simulator.last_request
    assert last is not None and last["messages"][-1]["content"][1]["type"] == "image_url"
