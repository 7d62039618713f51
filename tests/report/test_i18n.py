"""Reports in Chinese (reports.language: zh-CN): the message catalogue is complete and its
compiled .mo is the .po, no English UI string is left on a zh-CN page (only data: codes, names
and the pipeline's own text), figures follow the locale, CSV exports carry a BOM, and the
language is chosen by config, --lang or the reports job."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import visitonce
from visitonce import messages
from visitonce.report import fmt, i18n

REPO = Path(visitonce.__file__).resolve().parent.parent
LOCALES = sorted(p.name for p in i18n.LOCALE_DIR.iterdir() if p.is_dir())

# Words that stay as they are in a Chinese report: names of methods, measures and standards,
# and the product's name. Add a term here only if Chinese analysts write it in Latin letters.
TERMS = (
    "visitonce",
    "Erlang-C",
    "M/M/c",
    "CUSUM",
    "MAE",
    "RMSE",
    "WAPE",
    "Open311",
    "GeoReport v2",
    "Benjamini–Hochberg",
    "sha256",
    "Spiegelhalter",
)  # fmt: skip  (the funnel method's citation, Spiegelhalter 2005)
# What is not prose: config keys (demand.min_group), file names, time zones, placeholders
NOT_PROSE = re.compile(
    r"[A-Za-z0-9_/*.-]+\.(?:csv|json|md|html)|[a-z_]+\.[a-z_]+|[A-Z][a-z]+/[A-Za-z_]+"
    r"|\{[a-z]+\}",
    re.ASCII,
)
WORD = re.compile(r"[A-Za-z]{2,}")


# --- the catalogue ----------------------------------------------------------------------------


def _po(locale: str):
    from babel.messages.pofile import read_po

    path = i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        return read_po(f, locale=locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_catalogue_is_the_po(locale) -> None:
    """The .mo the pages load says exactly what the reviewed .po says (make messages)."""
    from babel.messages.mofile import read_mo

    with (i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.mo").open("rb") as f:
        mo = {m.id: m.string for m in read_mo(f) if m.id}
    po = {m.id: m.string for m in _po(locale) if m.id and m.string and not m.fuzzy}
    assert mo == po, "messages.mo is stale: run `make messages` and commit the .mo"


def _extracted() -> set[str]:
    """Every string the templates and the report's Python mark for translation."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (REPO / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    return {
        msg if isinstance(msg, str) else msg[0]
        for _file, _line, msg, _comments, _context in extract_from_dir(
            str(REPO), method_map, options_map, keywords={"_": None, "N_": None,
                                                          "gettext": None, "ngettext": (1, 2)}
        )
    }  # fmt: skip


@pytest.mark.parametrize("locale", LOCALES)
def test_every_page_string_is_translated(locale) -> None:
    translated = {m.id for m in _po(locale) if m.id and m.string and not m.fuzzy}
    strings = _extracted()
    assert len(strings) > 300  # the extraction found the templates
    missing = sorted(strings - translated)
    assert missing == [], (
        f"untranslated in {locale} (run `make messages`, translate the .po): {missing}"
    )


def test_every_vocabulary_word_is_translated() -> None:
    """A value of a worded column (a contract vocabulary: statuses, kinds, channels,
    dimensions ...) is a word of the page, not data: each has a label, and zh-CN translates it."""
    from visitonce import schemas

    words = set()
    for table in schemas.available():
        for col in schemas.load(table).columns:
            if col.name in i18n.WORDED_COLUMNS and col.vocabulary:
                words |= set(col.vocabulary)
    assert len(words) > 40  # the contracts' vocabularies were found
    assert words <= set(i18n.VOCABULARY), sorted(words - set(i18n.VOCABULARY))
    with i18n.use("zh-CN"):
        untranslated = [
            w for w in words & set(i18n.VOCABULARY) if i18n.word(w) == i18n.VOCABULARY[w]
        ]
    assert untranslated == []


def test_placeholders_survive_translation() -> None:
    for m in _po("zh_CN"):
        if m.id and m.string:
            assert sorted(re.findall(r"%\(\w+\)s", m.id)) == sorted(
                re.findall(r"%\(\w+\)s", m.string)
            ), m.id


# --- no English left on a Chinese page ---------------------------------------------------------


class _Visible(HTMLParser):
    """Text a reader sees or hears: text nodes (not style, script, code, pre) and the
    attributes read out or shown (aria-label, title, alt, data-of)."""

    SKIP = ("style", "script", "code", "pre")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs) -> None:
        if tag in self.SKIP:
            self._skip += 1
        for k, v in attrs:
            if k in ("aria-label", "title", "alt", "placeholder", "data-of") and v:
                self.texts.append(v)

    def handle_endtag(self, tag) -> None:
        if tag in self.SKIP:
            self._skip -= 1

    def handle_data(self, data) -> None:
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def visible_texts(html: str) -> list[str]:
    p = _Visible()
    p.feed(html)
    return p.texts


# Sentences the stages store beside a message (visitonce.messages): column -> message column.
# A sentence with its message must be shown in the page's language, so it is not data; its
# message's params are (names, codes, numbers). A sentence without one (a table written before
# messages existed) is shown as stored, like other data.
SENTENCES = {
    "proposals": "proposal_messages",
    "text": "message",
    "note": "note_message",
    "reference": "reference_message",
}


def _said(stored) -> dict | None:
    from visitonce import messages

    return messages.decode(stored)


def data_strings(inputs) -> list[str]:
    """Every string the pages draw from the data (codes, names, the params of the stages'
    messages, stored sentences that have no message; the manifest's words, e.g. a stage's
    error line), longest first."""
    out: set[str] = set()

    def add(v) -> None:
        if isinstance(v, str):
            out.add(v)
        elif isinstance(v, dict):
            # a sentence stored beside its message (note / note_message, target /
            # target_message): the message's params are data, its sentence is not
            said = {k: _said(x) for k, x in v.items() if k.endswith("_message")}
            for k, x in v.items():
                if said.get(f"{k}_message") is not None:
                    continue
                if said.get(k) is not None:
                    add(list(said[k]["params"].values()))
                    continue
                add(k)
                add(x)
        elif isinstance(v, (list, tuple, np.ndarray)):
            for x in v:
                add(x)

    def add_sentence(text, stored) -> None:
        if isinstance(text, (list, tuple, np.ndarray)):  # proposals: one message each
            stored = list(stored) if isinstance(stored, (list, tuple, np.ndarray)) else []
            for j, t in enumerate(text):
                add_sentence(t, stored[j] if j < len(stored) else None)
            return
        said = _said(stored)
        if said is None:
            add(text)
        else:
            add(list(said["params"].values()))

    for v in vars(inputs).values():
        if isinstance(v, pd.DataFrame):
            for c in v.columns:
                if c in SENTENCES.values():
                    continue
                if c in SENTENCES:
                    said = v[SENTENCES[c]] if SENTENCES[c] in v.columns else [None] * len(v)
                    for x, m in zip(v[c].tolist(), list(said), strict=True):
                        add_sentence(x, m)
                    continue
                for x in v[c].tolist():
                    # a vocabulary word is no data: the page must show it translated
                    if c in i18n.WORDED_COLUMNS and isinstance(x, str) and x in i18n.VOCABULARY:
                        continue
                    add(x)
        else:
            add(v)
    return sorted((s for s in out if WORD.search(s)), key=len, reverse=True)


def _uncut(text: str, data: list[str]) -> str:
    """A chart label cut short ("TRANS_TAXI_PERMIT · appr…") without its cut piece of data."""
    if not text.endswith("…"):
        return text
    head = text[:-1]
    # the longest piece of any data string (not the first data string with some piece: a
    # long one ending in "re" must not win over the code "time_limit_compression")
    best = max(
        (k for s in data for k in range(min(len(s) - 1, len(head)), 1, -1) if head.endswith(s[:k])),
        default=0,
    )
    if best:
        return head[: len(head) - best]
    return re.sub(r"[A-Za-z0-9_]+$", "", head)  # a piece of a code


def english_left(pages: dict[str, str], data: list[str]) -> dict[str, list[str]]:
    """Per page, the visible texts that still hold an English word once data, terms and
    non-prose tokens are taken out."""
    left: dict[str, list[str]] = {}
    for name, html in pages.items():
        for text in visible_texts(html):
            rest = _uncut(text, data)
            for t in TERMS:
                rest = rest.replace(t, " ")
            rest = NOT_PROSE.sub(" ", rest)
            for s in data:
                if s in rest:
                    rest = rest.replace(s, " ")
            if WORD.search(rest):
                left.setdefault(name, []).append(text)
    return left


def test_the_check_finds_english(handmade_inputs) -> None:
    """The English report fails the check (so a passing zh-CN report means something), and
    data strings alone pass it."""
    import dataclasses

    from visitonce.report.render import render_site

    en = render_site(dataclasses.replace(handmade_inputs, language="en"))
    left = english_left(en, data_strings(handmade_inputs))
    assert set(left) == set(en)  # every English page has English left
    assert "Lagging steps" in left["lagging.html"]
    assert english_left({"x.html": "<p>I01 · Birth record</p>"}, ["Birth record"]) == {}
    assert english_left({"x.html": "<p>I01 · Birth rec…</p>"}, ["Birth record"]) == {}
    assert english_left({"x.html": "<p>I01 · Not transl…</p>"}, ["Birth record"]) != {}
    cut = {"x.html": "<p>时限 · time_limit_compre…</p>"}
    assert english_left(cut, ["reading the longest string first", "time_limit_compression"]) == {}


def test_no_english_ui_string_on_a_zh_page(handmade_report_zh) -> None:
    pages = handmade_report_zh["pages"]
    assert len(pages) == 10
    left = english_left(pages, data_strings(handmade_report_zh["inputs"]))
    assert left == {}, (
        "English left on zh-CN pages: wrap it in _() or {% trans %}, run `make messages` and "
        f"translate it in visitonce/report/locale/zh_CN/LC_MESSAGES/messages.po: {left}"
    )


def test_stage_sentences_are_rendered_in_chinese(handmade_report_zh) -> None:
    """Sentences stored with a message (alert proposals, scorecard explanations, staffing
    notes, lagging references) are Chinese on a zh-CN page; one stored without a message (an
    older table) is shown as stored."""
    from tests.report import handmade as H

    pages = handmade_report_zh["pages"]
    alerts = pages["alerts.html"]
    assert (
        "09:00-11:00 在 C1 的 D1 窗口增派 2 名工作人员（Erlang-C 模型：每小时到达 30 人，平时为 12 人，"
        "每人办理 6.0 分钟；需 5 名工作人员才能使平均等候时间低于 15 分钟，按平时到达率需 3 名，排班为 3 名）"
    ) in alerts
    assert H.ADD[0] not in alerts
    assert "open 2 more desks (Erlang C: wait under 15 min)" in alerts  # no message: as stored
    dept = next(html for name, html in pages.items() if name.startswith("department-"))
    assert "on_time_rate 为 0.61，全市为 0.82，使得分降低 4.2 分" in dept
    assert "I01 的 review 环节用时是同类 processing 时间的 3.0 倍" in dept
    assert "缺 3.0 人：C2 该时段富余 4.0 人，可调配" in pages["demand.html"]
    assert "其他 4 个中心" in pages["lagging.html"]
    assert "the other 4 centres" not in pages["lagging.html"]


def test_stage_sentences_keep_their_english(handmade_inputs) -> None:
    """On English pages the stored English text is shown, with or without a message."""
    import dataclasses

    from tests.report import handmade as H
    from visitonce.report.render import render_site

    en = render_site(dataclasses.replace(handmade_inputs, language="en"))
    assert H.ADD[0] in set(visible_texts(en["alerts.html"]))
    dept = next(html for name, html in en.items() if name.startswith("department-"))
    assert {t for _, (t, _) in H.SAID} <= set(visible_texts(dept))
    assert H.SHORT[0] in en["demand.html"]


def test_messages_render_their_english_and_every_template_is_translated() -> None:
    """A message's English is its template filled in; the catalogue translates every template
    with the same placeholders."""
    from visitonce import messages

    text, stored = messages.compose("reference.places", others=4)
    assert text == "the other 4 centres"
    assert messages.decode(stored) == {"code": "reference.places", "params": {"others": "4"}}
    assert messages.decode("not json") is None and messages.decode('{"code": "gone"}') is None
    cat = _po("zh_CN")
    for code, template in messages.TEMPLATES.items():
        msg = cat.get(template)
        assert msg is not None and msg.string, code
        assert set(re.findall(r"%\((\w+)\)s", msg.string)) == set(
            re.findall(r"%\((\w+)\)s", template)
        ), code
    with i18n.use("zh-CN"):
        assert i18n.sentence(stored, text) == "其他 4 个中心"
        assert i18n.sentence(None, "as stored") == "as stored"
        said = messages.encode(messages.message("alert.extend_hours", center="C1",
                                                date="2026-03-18", queue="12"))  # fmt: skip
        assert (
            i18n.sentence(said)
            == "2026年3月18日 将 C1 的办公时间延长 1 小时：高峰持续到下班（约 12 名群众排队，按利特尔法则估算）"
        )
    assert i18n.sentence(stored, text) == text


def test_zh_pages_declare_their_language_and_keep_their_contract(handmade_report_zh) -> None:
    from tests.report.pagehtml import parse

    folder = handmade_report_zh["reports"]
    page = parse(folder / "lagging.html")
    assert page.lang == "zh-CN" and page.title == "滞后环节 · visitonce 报告"
    # data-col names and the data in them are unchanged: codes stay codes
    assert all(set(r) >= {"service_item", "step"} for r in page.rows.get("", [])) or page.rows
    demand = parse(folder / "demand.html")
    short = next(iter(r for k, r in demand.rows.items() if k.startswith("short:")))[0]
    assert short["weekday"][0] == "周一" and short["hour"][0] == "09:00"


def test_zh_item_names_and_dates(handmade_report_zh) -> None:
    html = handmade_report_zh["pages"]["lagging.html"]
    assert "I01 · Birth record" in html  # the catalog's name beside the code
    alerts = handmade_report_zh["pages"]["alerts.html"]
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d", alerts)


# --- formats ------------------------------------------------------------------------------------


def test_figures_follow_the_locale() -> None:
    import datetime as dt

    t = dt.datetime(2026, 3, 18, 2, 0)  # UTC, as Spark returns it
    with i18n.use("zh-CN"):
        assert fmt.timestamp(t, time_zone="Asia/Shanghai") == "2026年3月18日 10:00"
        assert fmt.day("2026-03-01") == "2026年3月1日"
        assert fmt.instant("2026-04-01T00:00:00+08:00", time_zone="Asia/Shanghai") == (
            "2026年4月1日 00:00"
        )
        assert fmt.count(1234567) == "1,234,567" and fmt.fixed(12345.678) == "12,345.68"
        assert fmt.percent(0.0123) == "1.2%"
        assert fmt.duration(5400) == "1.5 小时" and fmt.duration(600) == "10.0 分钟"
        assert fmt.duration(3 * 86400) == "3.0 天"
        assert i18n.word("insufficient_data") == "数据不足" and i18n.word("I01") == "I01"
    # English is as before
    assert fmt.timestamp(t, time_zone="Asia/Shanghai") == "2026-03-18 10:00"
    assert fmt.duration(5400) == "1.5 h" and fmt.day("2026-03-01") == "2026-03-01"


# --- choosing the language ----------------------------------------------------------------------


def test_language_from_config(tmp_path) -> None:
    from visitonce.config import ConfigError, load_config

    ok = tmp_path / "ok.yaml"
    ok.write_text("reports:\n  language: zh-CN\n")
    assert load_config(ok).reports.language == "zh-CN"
    assert load_config(None).reports.language == "en"
    bad = tmp_path / "bad.yaml"
    bad.write_text("reports:\n  language: zh\n")
    with pytest.raises(ConfigError) as e:
        load_config(bad)
    assert str(e.value) == "reports.language: unknown language 'zh'; use one of en, zh-CN"


def test_lang_flag_is_checked_before_any_work(tmp_path, capsys) -> None:
    from visitonce.cli import main

    assert main(["demo", "--out", str(tmp_path / "demo"), "--lang", "fr"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["visitonce: error: --lang 'fr': use one of en, zh-CN"]
    assert not (tmp_path / "demo").exists()


def test_reports_job_takes_lang() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("reports_job", REPO / "jobs" / "reports.py")
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    assert job.parse_args(["--warehouse", "w", "--lang", "zh-CN"]).lang == "zh-CN"
    assert job.parse_args(["--warehouse", "w", "--lang="]).lang is None


def test_zh_csv_export_has_a_bom(spark, handmade_root, handmade_report, tmp_path) -> None:
    from visitonce.config import Config, ReportsConfig
    from visitonce.report.stage import write_exports

    root = tmp_path / "out"
    shutil.copytree(handmade_root / "scorecards", root / "scorecards")
    zh = Config(reports=ReportsConfig(language="zh-CN"))
    write_exports(spark, str(root), config=zh, key=None, manifest={})
    raw = (root / "reports" / "exports" / "scorecards.csv").read_bytes()
    en = (handmade_root / "reports" / "exports" / "scorecards.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and not en.startswith(b"\xef\xbb\xbf")
    assert raw[3:] == en  # same columns, same rows: only the BOM differs
    assert (
        not (root / "reports" / "exports" / "scorecards.json")
        .read_bytes()
        .startswith(b"\xef\xbb\xbf")
    )


def _city_sentences(inputs) -> dict[str, list[tuple[str, str]]]:
    """Stored sentences of a run that carry a message: column -> (text, message) pairs."""
    out: dict[str, list[tuple[str, str]]] = {}
    tables = {
        "proposals": inputs.alerts,
        "text": inputs.scorecard_explanations,
        "note": inputs.staffing_plan,
        "reference": inputs.lagging_steps,
    }
    for column, df in tables.items():
        if df is None or SENTENCES[column] not in df.columns:
            continue
        for text, stored in zip(df[column], df[SENTENCES[column]], strict=True):
            if column == "proposals":
                pairs = (
                    list(zip(list(text), list(stored), strict=True)) if stored is not None else []
                )
            else:
                pairs = [(text, stored)] if stored is not None else []
            out.setdefault(column, []).extend(pairs)
        if not out.get(column):
            out.pop(column, None)
    return out


def test_a_real_run_in_chinese(spark, city_run, tmp_path) -> None:
    """The generated city's report rendered again in Chinese from its warehouse (no second
    pipeline run): no English UI string, the catalog's Chinese item names beside the codes."""
    from tests.report.conftest import render_to
    from visitonce.config import Config
    from visitonce.report.stage import read_inputs

    inputs = read_inputs(
        spark, str(city_run["root"]), config=Config(), manifest=city_run["manifest"]
    )
    pages = render_to(inputs, "zh-CN", tmp_path / "reports")
    assert english_left(pages, data_strings(inputs)) == {}
    # the city has every kind of stored sentence, each with its message, and the check above
    # held them to Chinese: the data strings it took out hold none of these sentences
    said = _city_sentences(inputs)
    assert set(said) == {"proposals", "text", "note", "reference"}, sorted(said)
    data = set(data_strings(inputs))
    for column, rows in said.items():
        assert rows and not {t for t, _ in rows} & data, column
        for text, stored in rows:  # the stored English is the message's English
            assert messages.english(messages.decode(stored)) == text, (column, text)
    flagged = inputs.lagging_steps[inputs.lagging_steps["flagged"]]
    with i18n.use("zh-CN"):
        shown = {i18n.sentence(m) for m in flagged["reference_message"]}
    assert all(x in pages["lagging.html"] for x in shown)
    names = inputs.catalog.set_index("service_item")["item_name"].to_dict()
    assert names["TRANS_TAXI_PERMIT"] == "网约车驾驶员证"
    shown = [
        c
        for c, n in names.items()
        if f'{c} <span class="name">· {n}</span>' in pages["demand.html"]
    ]
    assert len(shown) >= 10  # reform priorities, digital gap and trends name their items


def test_a_failed_stage_line_stays_english_and_says_so() -> None:
    """A stage's error line is its own words (data, as the manifest records it): shown as it
    is, with a note in Chinese that it is the stage's record; English pages are unchanged."""
    from visitonce.report.render import environment

    failed = {"lagging": ("failed", "RuntimeError: boom in lagging")}
    with i18n.use("zh-CN"):
        line = environment(failed=failed).globals["absence"]("lagging")
    assert line == "失败：RuntimeError: boom in lagging （错误信息按该阶段记录的原文显示）"
    assert environment(failed=failed).globals["absence"]("lagging") == (
        "failed: RuntimeError: boom in lagging"
    )
