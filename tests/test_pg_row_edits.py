"""The PostGIS row edit's history record computed from plain values (gisplan.store.pgedits.plain_row_change) is the
record the one-row frames give (gisplan.store.history.row_edit_change), and its layer hash is the whole layer's
hash after the edit — so that `gisplan undo` and `revert` take a service edit back exactly. No database needed:
the rows are given as the driver returns them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import shapely

from gisplan.store.history import row_edit_change
from gisplan.store.layerhash import layer_hash
from gisplan.store.pgedits import _Layer, _row_frame, plain_row_change

CRS = "EPSG:4490"
META = {"layer": "centres", "kind": "facilities", "facility_type": "x", "source_path": "a.csv", "source_sha256": "0",
        "source_layer": None, "imported_at": "2026-01-01T00:00:00Z", "crs_given": CRS, "stored_crs": CRS,
        "row_count": 4, "illustrative": 1, "note": "示意", "options": None}
COLUMNS = {"name": "str", "code": "str", "beds": "int64", "area_m2": "float64", "open": "bool", "remark": "object",
           "geometry": "geometry"}


def _point(x: float, y: float) -> bytes:
    return shapely.to_wkb(shapely.Point(x, y))


ROWS = [
    ("大安街道社区服务中心", "A1", 12, 350.5, True, "备注", _point(105.9, 29.3)),
    ("卫星湖社区 \"中心\"", "A2", 0, None, False, None, _point(105.8, 29.4)),
    ("青峰镇", "A3", 7, 1e-05, True, "x\ny", None),
    ("朱龙花村", "A4", -3, 12.0, False, "", _point(105.7, 29.2)),
]


def _layer(key: str, rows: list[tuple[object, ...]], *, columns: dict[str, str] = COLUMNS) -> tuple[_Layer, pd.DataFrame]:
    frames = [_row_frame(_Layer(columns, 0, META, None), r) for r in rows]
    whole = pd.concat(frames, ignore_index=True)
    whole = whole.set_crs(CRS, allow_override=True) if "geometry" in columns else whole
    return _Layer(columns, 7, META, (key, layer_hash(whole))), whole


@pytest.mark.parametrize(("position", "after"), [
    (0, ("大安街道社区服务中心（新址）", "A1", 12, 350.5, True, "备注", _point(105.9, 29.3))),
    (1, ("卫星湖社区 \"中心\"", "A2", 5, 3.25, True, "改了", _point(105.81, 29.41))),
    (2, ("青峰镇", "A3", 7, None, True, None, _point(106.0, 29.0))),
    (3, ("朱龙花村", "A4", -3, 12.0, False, "", _point(105.7, 29.2))),  # unchanged: no row record
    (3, ("朱龙花村", "A4", -3, math.nan, False, "数值缺失", None)),
])
@pytest.mark.parametrize("key", ["code", "name"])
def test_plain_values_give_the_frames_record_and_the_whole_layers_hash(position: int, after: tuple[object, ...],
                                                                        key: str) -> None:
    layer, whole = _layer(key, ROWS)
    before = ROWS[position]
    expected = row_edit_change("centres", _row_frame(layer, before), _row_frame(layer, after), position,
                               key_column=key, hash_before=layer.previous[1] if layer.previous else None, meta=META)
    got = plain_row_change("centres", layer, before, after, position)
    if key == "name" and after[0] != before[0]:  # the key changed: both say "compare whole layers"
        assert (got, expected) == (None, None)
        return
    assert expected is not None
    assert got == expected
    edited = pd.concat([whole.iloc[:position], _row_frame(layer, after).set_crs(CRS, allow_override=True),
                        whole.iloc[position + 1:]], ignore_index=True)
    assert got.hash_after == layer_hash(edited)
    assert len(got.rows) == (0 if after == before else 1)


def test_a_changed_key_or_a_value_outside_the_plain_dtypes_falls_back_to_the_frames() -> None:
    layer, _ = _layer("name", ROWS)
    renamed = ("新名字", *ROWS[0][1:])
    assert plain_row_change("centres", layer, ROWS[0], renamed, 0) is None
    assert row_edit_change("centres", _row_frame(layer, ROWS[0]), _row_frame(layer, renamed), 0, key_column="name",
                           hash_before=layer.previous[1] if layer.previous else None, meta=META) is None
    missing_int = (*ROWS[0][:2], None, *ROWS[0][3:])  # an integer column that gained a NULL reads back as object
    coded, _ = _layer("code", ROWS)
    assert plain_row_change("centres", coded, ROWS[0], missing_int, 0) is None
    no_history = _Layer(COLUMNS, 7, META, None)
    assert plain_row_change("centres", no_history, ROWS[0], ROWS[0], 0) is None


def test_a_table_without_geometry() -> None:
    columns = {"name": "str", "households": "int64"}
    rows: list[tuple[object, ...]] = [("兴隆村", 345), ("朱龙村", 1250)]
    layer, _ = _layer("name", rows, columns=columns)
    after = ("朱龙村", 1300)
    got = plain_row_change("villages", layer, rows[1], after, 1)
    expected = row_edit_change("villages", _row_frame(layer, rows[1]), _row_frame(layer, after), 1, key_column="name",
                               hash_before=layer.previous[1] if layer.previous else None, meta=META)
    assert got == expected is not None
    assert got.hash_after == layer_hash(pd.DataFrame({"name": pd.Series(["兴隆村", "朱龙村"], dtype="str"),
                                                      "households": np.array([345, 1300])}))
    assert got.rows[0].after == '{"name": "朱龙村", "households": 1300}'
