"""HTML pieces of ``curate report``: tables, heatmap tables, SVG histograms, image cards and the page.

Everything is inline (CSS in the head, thumbnails as data URIs, charts as SVG), so the report is one
file that opens offline, can be mailed, and needs no JavaScript.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..tables import natural_key, structural_zeros

CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222;max-width:1400px}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
nav a{margin-right:1em}table{border-collapse:collapse;margin:.5em 0 1em}
td,th{border:1px solid #ddd;padding:3px 7px;font-size:13px}th{background:#f4f4f4;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.note{color:#666;font-size:13px}
.sheet td{vertical-align:top}.thumbs{display:flex;flex-wrap:wrap;gap:3px;max-width:460px}
.thumbs img,.card img{height:72px;border:1px solid #ccc}figure{margin:0;display:inline-block}
figcaption{font-size:11px;color:#555;max-width:140px;overflow-wrap:normal;word-break:normal;
overflow:hidden}
.cluster{display:flex;gap:6px;flex-wrap:wrap;border:1px solid #ddd;padding:4px;margin:4px 0}
.keep img{border:3px solid #2a2}.bad{color:#b00}.timeline{border-left:3px solid #88a;padding-left:1em}
.timeline li{margin:.4em 0;list-style:none}.timeline code{font-size:12px}
.bar{background:#4a7ab5;height:12px;display:inline-block}.missing{color:#999;font-style:italic}
td.nested{background:#f2f2f2;color:#999}
"""


@dataclass(frozen=True)
class Section:
    """One section of the report: its anchor id, title and body HTML."""

    id: str
    title: str
    body: str


def esc(value: object) -> str:
    """HTML-escaped text of a value; missing values as an empty string."""
    if value is None or (not isinstance(value, str | bytes) and pd.isna(value)):
        return ""
    return html.escape(str(value))


def table(frame: pd.DataFrame, index: bool = True, links: Sequence[str] = ()) -> str:
    """A plain HTML table; numbers right-aligned, columns in ``links`` as links when they are URLs."""
    heads = ([esc(" x ".join(map(str, frame.index.names)) if any(frame.index.names) else "")]
             if index else []) + [esc(c) for c in frame.columns]
    rows = []
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    for key, values in zip(frame.index, frame.itertuples(index=False), strict=True):
        cells = [f"<th>{esc(' x '.join(map(str, key)) if isinstance(key, tuple) else key)}</th>"] \
            if index else []
        for col, value, num in zip(frame.columns, values, numeric, strict=True):
            text = esc(value)
            if col in links and text.startswith(("http://", "https://")):
                text = f"<a href='{text}'>{text}</a>"
            cells.append(f"<td class='n'>{text}</td>" if num else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in heads)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _colour(x: float) -> tuple[str, str]:
    """Background (white to dark blue) and a text colour readable on it, for ``x`` in 0..1."""
    lo, hi = np.array([247, 251, 255]), np.array([8, 48, 107])
    rgb = (lo + (hi - lo) * x).round().astype(int)
    luminance = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})", "#000" if luminance > 140 else "#fff"


def heatmap_table(counts: pd.DataFrame, thin: int = 0) -> str:
    """Counts as a table whose cells are shaded by count; cells under ``thin`` outlined in red (not
    the summed "other" column, nor zeros by construction, which are shown apart as a grey dot)."""
    top = float(counts.to_numpy().max()) if counts.size else 0.0
    summed = [str(c).startswith("other (") for c in counts.columns]
    nested = structural_zeros(counts)
    rows = []
    for key, values in counts.iterrows():
        cells = []
        for v, is_sum, by_construction in zip(values, summed, nested.loc[key], strict=True):
            if by_construction:
                cells.append("<td class='n nested' title='zero by construction: this group holds one "
                             "label'>·</td>")
                continue
            bg, fg = _colour(float(v) / top if top else 0.0)
            mark = ";outline:2px solid #d00;outline-offset:-2px" if v < thin and not is_sum else ""
            cells.append(f"<td class='n' style='background:{bg};color:{fg}{mark}'>{int(v)}</td>")
        rows.append(f"<tr><th>{esc(key)}</th>{''.join(cells)}</tr>")
    head = "".join(f"<th>{esc(c)}</th>" for c in counts.columns)
    corner = esc(f"{counts.index.name or ''} \\ {counts.columns.name or ''}")
    return f"<table><thead><tr><th>{corner}</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def histogram_svg(values: np.ndarray, bins: int, xlabel: str, log_x: bool = False,
                  width: int = 520, height: int = 200) -> str:
    """An SVG bar histogram of ``values`` with axis labels and integer count ticks."""
    values = values[np.isfinite(values)]
    if not len(values):
        return "<p class='missing'>no values</p>"
    data = np.log10(np.clip(values, 1e-9, None)) if log_x else values
    counts, edges = np.histogram(data, bins=bins)
    left, bottom, plot_w, plot_h = 50, 36, width - 60, height - 50
    top = max(int(counts.max()), 1)
    bar_w = plot_w / len(counts)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"font-size='11' font-family='sans-serif'>"]
    for i, c in enumerate(counts):
        h = plot_h * c / top
        parts.append(f"<rect x='{left + i * bar_w:.1f}' y='{height - bottom - h:.1f}' "
                     f"width='{max(bar_w - 1, 1):.1f}' height='{h:.1f}' fill='#4a7ab5'>"
                     f"<title>{_edge(edges[i], log_x)}–{_edge(edges[i + 1], log_x)}: {c}</title></rect>")
    for frac in (0, 0.5, 1):
        y = height - bottom - plot_h * frac
        parts.append(f"<text x='{left - 4}' y='{y + 4:.1f}' text-anchor='end'>{round(top * frac)}</text>")
    for i in np.linspace(0, len(edges) - 1, 5).round().astype(int):
        parts.append(f"<text x='{left + i * bar_w:.1f}' y='{height - bottom + 14}' text-anchor='middle'>"
                     f"{_edge(edges[i], log_x)}</text>")
    parts.append(f"<line x1='{left}' y1='{height - bottom}' x2='{left + plot_w}' y2='{height - bottom}' "
                 f"stroke='#333'/><text x='{left + plot_w / 2}' y='{height - 6}' text-anchor='middle'>"
                 f"{esc(xlabel)}</text><text x='12' y='{height / 2}' transform='rotate(-90 12 "
                 f"{height / 2})' text-anchor='middle'>images</text></svg>")
    return "".join(parts)


def _edge(x: float, log_x: bool) -> str:
    value = 10 ** x if log_x else x
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.2f}"


def bars(counts: pd.Series) -> str:
    """A table of counts with a bar each (largest first)."""
    top = max(int(counts.max()), 1) if len(counts) else 1
    rows = "".join(f"<tr><th>{esc(k)}</th><td class='n'>{int(v)}</td><td><span class='bar' "
                   f"style='width:{300 * v / top:.0f}px'></span></td></tr>" for k, v in counts.items())
    return f"<table><tbody>{rows}</tbody></table>"


def more(shown: int, total: int, where: str = "") -> str:
    """``... and 3 more`` under a list cut to ``shown`` of ``total`` items (``where``: where they all
    are), or ``""`` when nothing was cut."""
    if total <= shown:
        return ""
    return f"<p class='note more'>... and {total - shown} more{f' ({where})' if where else ''}.</p>"


def breakable(name: object) -> str:
    """A file name or path, escaped, that wraps only after its separators (``/ _ - .``), never inside
    a word: ``<wbr>`` marks where a line may break."""
    return re.sub(r"([/_.\-])", r"\1<wbr>", esc(name))


def figure(uri: str | None, caption: str, keep: bool = False) -> str:
    """An image with a caption (HTML); an explicit note when there is no thumbnail."""
    alt = html.escape(html.unescape(re.sub(r"<[^>]*>", "", caption)), quote=True)
    img = f"<img src='{uri}' alt='{alt}'>" if uri else "<span class='missing'>no image</span>"
    return f"<figure{' class=keep' if keep else ''}>{img}<figcaption>{caption}</figcaption></figure>"


def ordered(values: Iterable[object]) -> list[object]:
    """Values in natural order (numbers as numbers)."""
    return sorted(values, key=natural_key)


def page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole self-contained document."""
    nav = "".join(f"<a href='#{s.id}'>{esc(s.title)}</a>" for s in sections)
    body = "".join(f"<section id='{s.id}'><h2>{esc(s.title)}</h2>{s.body}</section>" for s in sections)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1><p class='note'>{subtitle}</p>"
            f"<nav>{nav}</nav>{body}</body></html>")
