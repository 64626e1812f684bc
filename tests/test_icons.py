"""The app icon shipped in the package: SVG sources and PNG renderings of the right sizes."""

from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ET
from importlib.resources import files

import pytest
from PIL import Image

from tickettracker import icons

SVG = "{http://www.w3.org/2000/svg}"


def png_header(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">IIBB", data[16:26])


@pytest.mark.parametrize("size", icons.PNG_SIZES)
def test_png_has_its_size_and_transparency(size: int) -> None:
    data = icons.png(size).read_bytes()
    assert png_header(data) == (size, size, 8, 6)  # 8-bit RGBA
    image = Image.open(io.BytesIO(data)).convert("RGBA")
    # Rounded corners are see-through, so the icon sits on dark and light desktops alike;
    # the middle is the opaque white ticket.
    assert image.getpixel((0, 0))[3] == 0
    assert image.getpixel((size - 1, size - 1))[3] == 0
    middle_row = [image.getpixel((x, size * 3 // 8)) for x in range(size)]
    assert any(p[3] == 255 and min(p[:3]) >= 240 for p in middle_row), "no white ticket"


def distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("size", icons.PNG_SIZES)
def test_png_stands_out_on_dark_and_light_backgrounds(size: int) -> None:
    image = Image.open(io.BytesIO(icons.png(size).read_bytes())).convert("RGBA")
    for backdrop in ((32, 33, 36), (245, 245, 245)):
        flat = Image.new("RGBA", image.size, (*backdrop, 255))
        flat.alpha_composite(image)
        # The blue body differs clearly from the backdrop along the icon's middle column.
        column = [flat.getpixel((size // 2, y))[:3] for y in range(size)]
        distinct = [p for p in column if distance(p, backdrop) > 120]
        assert len(distinct) >= size // 2, f"icon fades into {backdrop} at {size} px"


def test_unknown_size_is_refused() -> None:
    with pytest.raises(ValueError, match="no 20 px icon"):
        icons.png(20)


@pytest.mark.parametrize("name", ["tickettracker.svg", "tickettracker-16.svg"])
def test_svg_is_self_contained(name: str) -> None:
    root = ET.fromstring(files("tickettracker").joinpath("static/icons", name).read_bytes())
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox")
    # No external references: a favicon or theme icon must not fetch anything.
    for element in root.iter():
        for key, value in element.attrib.items():
            if key.endswith("href"):
                assert value.startswith("#"), f"{name} links to {value}"


def test_pages_use_the_icon_as_favicon(client) -> None:
    html = client.get("/").get_data(as_text=True)
    for href, content_type in (
        ("/static/icons/tickettracker.svg", "image/svg+xml"),
        ("/static/icons/tickettracker-32.png", "image/png"),
    ):
        assert f'href="{href}"' in html
        resp = client.get(href)
        assert resp.status_code == 200
        assert resp.content_type.startswith(content_type)
        assert resp.data == files("tickettracker").joinpath(href.removeprefix("/")).read_bytes()
        resp.close()
