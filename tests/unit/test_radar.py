"""The hexagon chart of a sheet draws the sheet's levels (read back from the SVG)."""

import math
import xml.etree.ElementTree as ET

from app.web.radar import radar_chart
from tests import demo_data

SVG = "{http://www.w3.org/2000/svg}"


def svg_of(html: str) -> ET.Element:
    start = html.index('<svg class="radar"')
    end = html.index("</svg>", start) + len("</svg>")
    return ET.fromstring(html[start:end])


def points(attr: str) -> list[tuple[float, float]]:
    return [tuple(float(v) for v in p.split(",")) for p in attr.split()]


def read_levels(svg: ET.Element) -> list[tuple[str, float]]:
    """Each axis' label and the level its point shows, from the geometry alone."""
    max_level = len(svg.findall(f".//{SVG}polygon[@class='radar-ring']"))
    outer = points(svg.findall(f".//{SVG}polygon[@class='radar-ring']")[-1].get("points"))
    cx = sum(x for x, _ in outer) / len(outer)
    cy = sum(y for _, y in outer) / len(outer)
    radius = math.dist((cx, cy), outer[0])
    shape = points(svg.find(f".//{SVG}polygon[@class='radar-shape']").get("points"))
    labels = [t.text for t in svg.findall(f".//{SVG}text[@class='radar-label']")]
    assert len(shape) == len(labels) == len(outer)
    levels = []
    for i, ((x, y), corner) in enumerate(zip(shape, outer, strict=True)):
        level = math.dist((cx, cy), (x, y)) / radius * max_level
        if level > 0.01:  # the point lies on its own axis
            axis = math.atan2(corner[1] - cy, corner[0] - cx)
            assert math.isclose(math.atan2(y - cy, x - cx), axis, abs_tol=1e-3), i
        levels.append((labels[i], level))
    return levels


def demo_sheet():
    (sheet,) = demo_data.demo()["evaluations"]
    return sheet


def test_the_entry_page_chart_shows_the_sheet_levels(client):
    sheet = demo_sheet()
    html = client.get(f"/entries/{sheet['entry']}").get_data(as_text=True)
    drawn = read_levels(svg_of(html))
    # The sheet's answers in the key order of DESIGN.md (the keys' positions).
    order = ["governance", "financing", "contribution", "sharing", "legal", "partners"]
    expected = [sheet["answers"][key]["level"] for key in order]
    assert [round(level, 2) for _, level in drawn] == expected
    assert [label for label, _ in drawn] == [
        "Gouvernance", "Financement", "Contribution", "Partage", "Juridique", "Partenaires"]
    # The table beside it says the same for screen readers.
    for key, level in zip(order, expected, strict=True):
        assert f'<tr data-key="{key}">' in html
        row = html.split(f'<tr data-key="{key}">')[1].split("</tr>")[0]
        assert f"{level}/4" in row


def test_chart_geometry_for_any_levels():
    items = [("a", "A", 0), ("b", "B", 4), ("c", "C", 1), ("d", "D", None), ("e", "E", 2)]
    chart = radar_chart(items)
    svg = ET.fromstring(
        '<svg xmlns="http://www.w3.org/2000/svg">'
        + "".join(f'<polygon class="radar-ring" points="{r}"/>' for r in chart.rings)
        + f'<polygon class="radar-shape" points="{chart.shape}"/>'
        + "".join(f'<text class="radar-label">{a.label}</text>' for a in chart.axes)
        + "</svg>")
    assert [round(level, 2) for _, level in read_levels(svg)] == [0, 4, 1, 0, 2]
