"""The HTML of ``vis-report``: one self-contained page (inline CSS and script, no fonts or CDN).

Tables are built from :class:`Cell` rows; a table with ``sortable=True`` sorts by a column when
its header is clicked (numbers by value, text alphabetically; a second click reverses).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1400px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f0f0f0; text-align: left; } td.text { text-align: left; }
.row { display: flex; flex-wrap: wrap; gap: 2em; align-items: flex-start; }
table.sortable th { cursor: pointer; user-select: none; }
th[aria-sort=ascending]::after { content: " \\25B2"; } th[aria-sort=descending]::after { content: " \\25BC"; }
td.failed { color: #b00020; } td.pos { color: #0a7a2f; } td.neg { color: #b00020; }
.meta { color: #555; font-size: .9em; } .videos { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0 0 1em 0; } figcaption { font-size: .85em; color: #555; }
video { width: 640px; max-width: 100%; background: #000; } img { max-width: min(100%, 720px); }
td.failed.text { max-width: 40em; overflow-wrap: anywhere; }
"""

# Click a header: sort the body rows by that column (data-sort holds the value to compare).
_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[column].dataset.sort, y = b.cells[column].dataset.sort;
        var nx = parseFloat(x), ny = parseFloat(y);
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


@dataclass(frozen=True)
class Cell:
    """One table cell: shown text (or trusted HTML), sort key, CSS class."""

    text: str
    sort: str | float = ""
    css: str = ""
    raw_html: bool = False

    def render(self) -> str:
        body = self.text if self.raw_html else html.escape(self.text)
        sort = "" if isinstance(self.sort, float) and math.isnan(self.sort) else self.sort
        css = f' class="{self.css}"' if self.css else ""
        return f'<td{css} data-sort="{html.escape(str(sort))}">{body}</td>'


def text(value: str, css: str = "text") -> Cell:
    return Cell(value, value.lower(), css)


def number(value: float | int | None, digits: int = 0, scale: float = 1.0) -> Cell:
    """A number (``-`` for None or a negative = undefined metric, sorted first)."""
    if value is None or (isinstance(value, float) and (math.isnan(value) or value < 0)):
        return Cell("-", -1.0)
    return Cell(f"{scale * value:.{digits}f}", float(value))


def percent(value: float | None) -> Cell:
    """A metric fraction shown in % with one decimal."""
    return number(value, 1, 100.0)


def delta(value: float | None, base: float | None) -> Cell:
    """``value - base`` in percentage points, coloured by sign."""
    if value is None or base is None or value < 0 or base < 0:
        return Cell("-", -1e9)
    change = 100.0 * (value - base)
    return Cell(f"{change:+.1f}", change, "pos" if change > 0.05 else "neg" if change < -0.05 else "")


def link(label: str, href: str) -> Cell:
    return Cell(
        f'<a href="{html.escape(href)}">{html.escape(label)}</a>', label.lower(), "text", raw_html=True
    )


def table(
    headers: Sequence[str], rows: Sequence[Sequence[Cell]], table_id: str, sortable: bool = False
) -> str:
    """An HTML table with a header row."""
    css = ' class="sortable"' if sortable else ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(c.render() for c in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"{css}><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>'


def markdown_table(markdown: str, table_id: str) -> str:
    """A pipe-table in markdown (as ``vis-ablate`` writes it) as an HTML table."""
    lines = [line.strip().strip("|") for line in markdown.strip().splitlines()]
    headers = [h.strip() for h in lines[0].split("|")]
    rows = [
        [text(c.strip(), "text" if i < 2 else "") for i, c in enumerate(line.split("|"))]
        for line in lines[2:]
    ]
    return table(headers, rows, table_id)


def video_figure(src: str, caption: str) -> str:
    return (
        f'<figure><video src="{html.escape(src)}" controls muted loop playsinline preload="auto"></video>'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def page(title: str, sections: Sequence[str]) -> str:
    """The whole document: title, the sections in order, the sorting script."""
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        + "\n".join(sections)
        + f"\n<script>{_SCRIPT}</script>\n</body></html>\n"
    )


def heading(level: int, label: str, anchor: str | None = None) -> str:
    anchor_attr = f' id="{html.escape(anchor)}"' if anchor else ""
    return f"<h{level}{anchor_attr}>{html.escape(label)}</h{level}>"


def paragraph(content: str, css: str = "") -> str:
    css_attr = f' class="{css}"' if css else ""
    return f"<p{css_attr}>{html.escape(content)}</p>"


def image(src: str, alt: str) -> str:
    return f'<img src="{html.escape(src)}" alt="{html.escape(alt)}">'


def side_by_side(*blocks: str) -> str:
    """Blocks next to each other (wrapping on narrow screens)."""
    return '<div class="row">' + "".join(f"<div>{b}</div>" for b in blocks) + "</div>"
