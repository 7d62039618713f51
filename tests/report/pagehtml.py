"""Read back what a report page shows: its title, table rows keyed by ``data-key`` with each
``data-col`` cell's text (and ``data-value``; an item's catalog name beside its code, in
``<span class="name">``, is not part of the cell's value), and what accessibility needs (tables with
headers, charts with text alternatives). Plain html.parser: no browser needed."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path


@dataclass
class Page:
    title: str = ""
    lang: str = ""
    rows: dict[str, list[dict[str, tuple[str, str | None]]]] = field(default_factory=dict)
    tables: int = 0
    tables_with_th: int = 0
    svgs: list[dict[str, str]] = field(default_factory=list)
    svg_titles: int = 0
    links: list[str] = field(default_factory=list)
    scripts_src: list[str] = field(default_factory=list)
    text: str = ""


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._stack: list[str] = []
        self._row: dict[str, tuple[str, str | None]] | None = None
        self._row_key: str | None = None
        self._cell: tuple[str, str | None] | None = None
        self._cell_text: list[str] = []
        self._in_title = False
        self._in_svg_title = False
        self._table_th: list[bool] = []
        self._texts: list[str] = []
        self._in_name = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.page.lang = a.get("lang") or ""
        if tag == "title":
            if "svg" in self._stack:
                self._in_svg_title = True
            else:
                self._in_title = True
        if tag == "table":
            self.page.tables += 1
            self._table_th.append(False)
        if tag == "th" and self._table_th:
            self._table_th[-1] = True
        if tag == "svg":
            self.page.svgs.append({k: v or "" for k, v in a.items()})
        if tag == "a" and a.get("href"):
            self.page.links.append(a["href"] or "")
        if tag in ("script", "link", "img") and (a.get("src") or a.get("href")):
            self.page.scripts_src.append(a.get("src") or a.get("href") or "")
        if tag == "tr" and a.get("data-key") is not None:
            self._row, self._row_key = {}, a["data-key"]
        if tag == "span" and a.get("class") == "name":
            self._in_name = True
        if tag in ("td", "span", "strong") and a.get("data-col") is not None:
            self._cell = (a["data-col"] or "", a.get("data-value"))
            self._cell_text = []
            self._cell_tag = tag
        self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()
        if tag == "title":
            self._in_title = self._in_svg_title = False
        if tag == "span":
            self._in_name = False
        if tag == "table" and self._table_th:
            self.page.tables_with_th += self._table_th.pop()
        if self._cell is not None and tag == self._cell_tag:
            name, value = self._cell
            shown = " ".join("".join(self._cell_text).split())
            target = self._row if self._row is not None else self.page.rows.setdefault("", [{}])[0]
            target[name] = (shown, value)
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.page.rows.setdefault(self._row_key or "", []).append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.page.title += data
        if self._in_svg_title:
            self.page.svg_titles += 1
            self._in_svg_title = False
        if self._cell is not None and not self._in_name:
            self._cell_text.append(data)
        self._texts.append(data)

    def close(self) -> None:
        super().close()
        self.page.text = " ".join(" ".join(self._texts).split())


def parse(path: Path | str) -> Page:
    p = _Parser()
    p.feed(Path(path).read_text("utf-8"))
    p.close()
    return p.page
