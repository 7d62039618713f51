"""Source mappings: the documented GBK example end to end, and clear errors for bad mappings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from visitonce import columns as C
from visitonce import ingest, io
from visitonce.config import ConfigError
from visitonce.mapping import builtin_names, load_mapping, parse_mapping
from visitonce.pseudonym import pseudonym_py

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "hall-gbk.yaml"
END = dt.datetime(2026, 4, 1, tzinfo=dt.timezone.utc)

GBK_CSV = """流水号,办件编号,申请人证件号,申请人姓名,申请人类型,事项编码,承办部门,渠道,大厅,环节,经办人,开始时间,结束时间,等候分钟,评价
S1,B001,330106199001011234,张三,个人,RE_REG,不动产登记中心,窗口,东大厅,受理,李四,2026/3/2 9:05,2026/3/2 9:25,12,非常满意
S2,B001,330106199001011234,张三,个人,RE_REG,不动产登记中心,网上,,审核,王五,2026/3/2 10:00,2026-03-03 16:30:00,无,
S3,B002,91330106MA2B3C4D5E,某某公司,法人,TAX_DEED,税务局,传真,东大厅,受理,李四,2026/3/2 9:40,,5,满意
S4,B003,,,个人,TAX_DEED,税务局,自助机,东大厅,受理,赵六,2026/13/2 9:40,,3,
"""


@pytest.fixture()
def gbk_file(tmp_path: Path) -> Path:
    path = tmp_path / "hall" / "export.csv"
    path.parent.mkdir()
    path.write_bytes(GBK_CSV.encode("gbk"))
    return path


def test_gbk_export_through_the_documented_mapping(spark, gbk_file: Path) -> None:
    mapping = load_mapping(str(EXAMPLE))
    assert mapping.encoding == "GBK"
    key = b"k" * 32
    raw = io.read_raw(spark, str(gbk_file.parent), mapping=mapping)
    canonical = ingest.with_values_json(
        ingest.with_pseudonyms(ingest.to_canonical(raw.df, mapping=mapping), key=key)
    )
    rows = {
        r[C.EVENT_ID]: r
        for r in ingest.with_parsed(
            canonical, mapping=mapping, time_zone="UTC", latest_allowed=END
        ).collect()
    }
    assert set(rows) == {"S1", "S2", "S3", "S4"}

    s1 = rows["S1"]
    assert s1[C.REASON] is None
    assert (s1[C.CHANNEL], s1[C.CITIZEN_TYPE], s1[C.DEPARTMENT]) == (
        "counter",
        "individual",
        "不动产登记中心",
    )
    assert s1[C.DISTRICT] == "330106"  # constant column
    # 09:05 Beijing time (the mapping's zone, not the analysis zone) is 01:05 UTC.
    assert s1[C.STARTED_AT] == dt.datetime(2026, 3, 2, 1, 5)
    assert s1[C.ARRIVED_AT] == dt.datetime(2026, 3, 2, 0, 53)  # 12 minutes of waiting
    assert s1[C.SATISFACTION] == 5 and s1[C.PHYSICAL_VISIT] is True
    assert s1[C.CITIZEN_ID] == pseudonym_py("330106199001011234", key=key, domain="citizen")
    assert s1[C.OFFICIAL] == pseudonym_py("李四", key=key, domain="official")

    s2 = rows["S2"]
    assert s2[C.REASON] is None
    assert s2[C.ENDED_AT] == dt.datetime(2026, 3, 3, 8, 30)  # second declared format
    assert (s2[C.ARRIVED_AT], s2[C.SATISFACTION], s2[C.PHYSICAL_VISIT]) == (None, None, False)
    assert s2[C.CENTER] is None

    s3 = rows["S3"]  # 传真 (fax) is not mapped: the default 'other' applies, so it is valid
    assert (s3[C.CHANNEL], s3[C.CITIZEN_TYPE], s3[C.REASON]) == ("other", "enterprise", None)
    assert s3[C.ENDED_AT] is None  # open step

    assert rows["S4"][C.REASON] == "bad_timestamp"
    # Nothing raw survives: not the ID numbers, not the unmapped name column.
    text = " ".join(str(r.asDict()) for r in rows.values())
    for raw_value in ("330106199001011234", "91330106MA2B3C4D5E", "张三", "李四", "某某公司"):
        assert raw_value not in text


def test_canonical_is_built_in() -> None:
    assert "canonical" in builtin_names()
    assert load_mapping("canonical").name == "canonical"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"colums": {}}, "unknown key(s) ['colums']"),
        ({"columns": {"applicant": "x"}}, "not contract columns"),
        ({"format": "xlsx"}, "format 'xlsx' is not one of"),
        ({"encoding": "latin-9"}, "encoding 'latin-9' is not one of"),
        ({"time_zone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"values": {"channel": {"01": "counter"}}}, "values.channel needs a 'map:'"),
        (
            {"timestamps": {"step": ["yyyy"]}},
            "only ('arrived_at', 'started_at', 'ended_at', 'due_at')",
        ),
        (
            {
                "durations": [
                    {
                        "column": "w",
                        "unit": "fortnights",
                        "target": "arrived_at",
                        "anchor": "started_at",
                    }
                ]
            },
            "unit 'fortnights' is not one of",
        ),
        ({"durations": [{"unit": "minutes"}]}, "durations[0] needs column, target, anchor"),
        ({"derive": {"started_at": "guess"}}, "derive.started_at must be 'previous_end'"),
    ],
)
def test_bad_mappings_give_one_line_errors(doc, message) -> None:
    with pytest.raises(ConfigError) as e:
        parse_mapping(doc, where="m.yaml")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_unknown_mapping_name_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="unknown source mapping 'nyc'.*canonical"):
        load_mapping("nyc")
