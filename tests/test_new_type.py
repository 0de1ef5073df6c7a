"""A facility type that only a user catalogue defines — 农家书屋, village reading rooms, with an attribute, a travel
profile, a threshold, a colour and a glyph of its own and no line of code — flows through import, coverage,
indicators, siting and the map (issue 12, point 4). The workspace holds the 永川 demo layers and the real roads;
the ledger is generated: one reading room in each of the 207 rural villages but five."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from gisplan.cli.main import cli
from tests.conftest import LAYERS, shared_data

if TYPE_CHECKING:
    from pathlib import Path

USER_CATALOGUE = """
# A bureau's own catalogue: 农家书屋 (village reading rooms). gisplan's code knows nothing of them.
[attributes.books]
dtype = "int"
unit = "books"
min = 0
suffixes = ["册", "本"]
aliases = ["藏书量", "图书册数"]

[profiles.reader_walk]
name_zh = "读者步行"
speed_m_per_min = 70.0
excluded_classes = ["motorway", "motorway_link", "trunk", "trunk_link", "高速公路", "城市快速路"]

[[type]]
id = "reading_room"
name_zh = "农家书屋"
aliases_zh = ["村级农家书屋"]
name_en = "Village reading room"
colour = "#8e24aa"
glyph = "书"
coverage = ["network", "administrative"]
admin_level = "village"
admin_scope = "rural_villages"
profile = "reader_walk"
max_minutes = 20
required = ["facility_id", "name", "code12", "books"]
optional = ["address", "status", "township", "village"]
plan_rows = ["示意 test: 农家书屋"]
"""

SCENARIO = """
[scenario]
name = "永川区 农家书屋 示意 test"
district_code = "500118"
crs = "EPSG:32648"
workspace = "ws.gpkg"
catalogue = "reading_rooms.toml"

[[layer]]
kind = "gazetteer"
path = "{layers}/yongchuan_gazetteer.csv"

[[layer]]
kind = "district"
path = "{layers}/yongchuan_boundaries.gpkg"
layer = "district"

[[layer]]
kind = "townships"
path = "{layers}/yongchuan_boundaries.gpkg"
layer = "townships"

[[layer]]
kind = "villages"
path = "{layers}/yongchuan_villages_illustrative.gpkg"
layer = "villages"
illustrative = true

[[layer]]
kind = "households"
path = "{layers}/yongchuan_households_illustrative.csv"
illustrative = true

[coverage]
method = "network"
bands_minutes = [20]
max_snap_m = 1000
spread = "roads"
spread_spacing_m = 250

[roads]
path = "{roads}"
crs = "gcj02"
osm_fallback = false

[[indicator]]
id = "RR-ADMIN"
section = "示意 test"
row = "1"
name_zh = "农家书屋建制村覆盖率"
target_2025 = "100"
comparator = ">="
nature = "预期性"
metric = "admin_share"
type = "reading_room"

[[indicator]]
id = "RR-20MIN"
section = "示意 test"
row = "2"
name_zh = "20 分钟步行可达农家书屋的人口比例"
target_2025 = "≥10"
comparator = ">="
nature = "预期性"
metric = "network_coverage"
type = "reading_room"
"""

RURAL_VILLAGES = 207  # names ending 村民委员会 in the 永川 gazetteer
LEFT_OUT = (10, 50, 100, 150, 200)  # rural villages (by code order) the generated ledger leaves without a room
SPEED_M_PER_MIN = 70.0  # reader_walk


def _write_ledger(path: Path) -> tuple[pd.DataFrame, set[str]]:
    """A ledger as a bureau keeps it (Chinese headers, 册 after the numbers): a room at a point inside each rural
    village but the LEFT_OUT ones. Returns the ledger and the codes of the villages without a room."""
    villages = pyogrio.read_dataframe(LAYERS / "yongchuan_villages_illustrative.gpkg", layer="villages")
    rural = villages[villages["name"].str.endswith("村民委员会")].sort_values("code12").reset_index(drop=True)
    assert len(rural) == RURAL_VILLAGES
    lacking = set(rural["code12"].iloc[list(LEFT_OUT)])
    rooms = rural[~rural["code12"].isin(lacking)].reset_index(drop=True)
    spot = rooms.geometry.representative_point()
    ledger = pd.DataFrame({
        "编号": [f"NJSW-{i:03d}" for i in range(len(rooms))],
        "名称": rooms["name"].str.removesuffix("村民委员会") + "农家书屋",
        "区划代码": rooms["code12"],
        "藏书量": [f"{1500 + 10 * i}册" for i in range(len(rooms))],
        "经度": spot.x.round(6), "纬度": spot.y.round(6),
    })
    ledger.to_csv(path, index=False, encoding="utf-8")
    return ledger, lacking


def _overlays(page: str) -> dict[str, tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """The overlays of a written map page, by their last class (``gp-fac-0`` …): (name in the layer control,
    options, features), decoded from the page's own JSON."""
    decoder = json.JSONDecoder()
    setup = list(re.finditer(r"gisplanSetup\((map_\w+), ", page))[-1]  # the call, not the library's definition
    names = decoder.raw_decode(page, setup.end())[0]["names"]  # layer key → its name in the layer panel
    out = {}
    for match in re.finditer(r"var (gisplan_overlay_\w+) = gisplanLayer\('(\w+)', ", page):
        options, _ = decoder.raw_decode(page, match.end())
        # the layer's GeoJSON waits in <script type="application/json" id="…_data"> until the layer is shown
        start = page.index(f'<script type="application/json" id="{match.group(2)}">')
        data, _ = decoder.raw_decode(page, page.index(">", start) + 1)
        key = options["className"].split()[-1]  # gp-fac-0 …; the panel names it by fac-0 …
        out[key] = (names[key.removeprefix("gp-")], options, data["features"])
    return out


@pytest.fixture(scope="module")
def reading_rooms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The ledger imported with `gisplan layers import --catalogue`, then `gisplan run` of a scenario whose
    catalogue is the user's file."""
    roads = shared_data("roads", "yongchuan_roadlinks_gcj02.geojson")
    tmp = tmp_path_factory.mktemp("reading_rooms")
    (tmp / "reading_rooms.toml").write_text(USER_CATALOGUE, encoding="utf-8")
    scenario = tmp / "sc.toml"
    scenario.write_text(SCENARIO.format(layers=LAYERS.as_posix(), roads=roads.as_posix()), encoding="utf-8")
    ledger, lacking = _write_ledger(tmp / "农家书屋台账.csv")
    store = tmp / "ws.gpkg"
    runner = CliRunner()
    for args in (["layers/yongchuan_gazetteer.csv", "--kind", "gazetteer"],
                 ["layers/yongchuan_boundaries.gpkg", "--kind", "district", "--layer", "district"],
                 ["layers/yongchuan_boundaries.gpkg", "--kind", "townships", "--layer", "townships"],
                 ["layers/yongchuan_villages_illustrative.gpkg", "--kind", "villages", "--layer", "villages"]):
        base = runner.invoke(cli, ["layers", "import", str(LAYERS.parent / args[0]), *args[1:], "-w", str(store)])
        assert base.exit_code == 0, base.output
    ledger_args = ["layers", "import", str(tmp / "农家书屋台账.csv"), "--kind", "facilities", "--type", "reading_room",
                   "--crs", "4326", "--illustrative", "-w", str(store)]
    unknown = runner.invoke(cli, ledger_args)
    imported = runner.invoke(cli, [*ledger_args, "--catalogue", str(tmp / "reading_rooms.toml")])
    run = runner.invoke(cli, ["run", str(scenario), "-w", str(store), "--out", str(tmp / "out")])
    assert run.exit_code == 0, run.output
    return {"store": store, "out": tmp / "out", "ledger": ledger, "lacking": lacking, "unknown": unknown,
            "imported": imported, "run": run.output}


def test_import_reads_the_new_type_through_the_user_catalogue(reading_rooms: dict[str, Any]) -> None:
    unknown = reading_rooms["unknown"]  # without the user's catalogue the type does not exist
    assert unknown.exit_code == 2
    assert "unknown facility type `reading_room`" in unknown.output
    imported = reading_rooms["imported"]
    assert imported.exit_code == 0, imported.output
    assert "imported 202 rows into layer `facilities_reading_room`" in imported.output
    rooms = pyogrio.read_dataframe(reading_rooms["store"], layer="facilities_reading_room")
    assert len(rooms) == RURAL_VILLAGES - len(LEFT_OUT) == 202
    assert rooms["facility_id"].tolist()[:2] == ["NJSW-000", "NJSW-001"]
    assert rooms["books"].tolist()[:3] == [1500, 1510, 1520]  # the user's attribute, "1500册" read by its alias
    assert set(rooms["code12"]) == set(reading_rooms["ledger"]["区划代码"])


def test_coverage_gives_minutes_to_every_demand_point(reading_rooms: dict[str, Any]) -> None:
    demand = pyogrio.read_dataframe(reading_rooms["out"] / "results.gpkg", layer="demand")
    minutes = demand["minutes_reading_room"].to_numpy(dtype=float)
    reached = ~np.isnan(minutes)
    assert len(demand) > 10_000
    assert 0.1 < reached.mean() < 0.9  # a room per village, 20 minutes on foot: part of each village is reached
    assert (demand["covered_reading_room"] == (minutes <= 20.0)).all()  # the type's own threshold
    assert set(demand.loc[reached, "facility_reading_room"]) <= set(reading_rooms["ledger"]["编号"])
    # no one walks faster than the profile's 70 m/min: minutes at least the straight line to the nearest room
    near = demand[reached].to_crs(32648)
    rooms = reading_rooms["ledger"].set_index("编号").loc[near["facility_reading_room"]]
    spots = gpd.GeoSeries(gpd.points_from_xy(rooms["经度"], rooms["纬度"]), crs=4326).to_crs(32648)
    straight_m = shapely.distance(near.geometry.to_numpy(), spots.to_numpy())
    assert (near["minutes_reading_room"].to_numpy() >= straight_m / SPEED_M_PER_MIN - 1e-6).all()
    assert near["minutes_reading_room"].min() < 1.0  # a room stands on the roads of its village


def test_indicator_rows_on_the_new_type_get_values_and_status(reading_rooms: dict[str, Any]) -> None:
    table = pd.read_csv(reading_rooms["out"] / "indicators.csv").set_index("indicator_id")
    admin = table.loc["RR-ADMIN"]
    assert (admin["numerator"], admin["denominator"]) == (202, 207)
    assert admin["value"] == pytest.approx(100 * 202 / 207)  # 97.6 %
    assert admin["status"] == "未达标"
    network = table.loc["RR-20MIN"]
    demand = pyogrio.read_dataframe(reading_rooms["out"] / "results.gpkg", layer="demand")
    covered = demand.loc[demand["covered_reading_room"], "population"].sum()
    assert network["value"] == pytest.approx(100 * covered / demand["population"].sum())
    assert 10 < network["value"] < 100
    assert network["status"] == "达标"
    assert "reading_room" in reading_rooms["run"]


def test_siting_puts_one_room_in_each_village_without_one(reading_rooms: dict[str, Any]) -> None:
    table = pd.read_csv(reading_rooms["out"] / "indicators.csv").set_index("indicator_id")
    assert table.loc["RR-ADMIN", "new_sites"] == 5
    assert table.loc["RR-ADMIN", "value_after"] == 100
    assert table.loc["RR-ADMIN", "status_after"] == "达标"
    sites = pd.read_csv(reading_rooms["out"] / "proposed_sites.csv", dtype={"village_code12": str})
    assert (sites["facility_type"] == "reading_room").all()
    assert sorted(sites["village_code12"]) == sorted(reading_rooms["lacking"])
    assert sites["rank"].tolist() == [1, 2, 3, 4, 5]


def test_map_draws_the_new_type_in_its_colour_and_glyph(reading_rooms: dict[str, Any]) -> None:
    overlays = _overlays((reading_rooms["out"] / "map.html").read_text(encoding="utf-8"))
    name, options, features = overlays["gp-fac-0"]
    assert name == '<span style="color:#8e24aa">●</span> 农家书屋（202）'
    assert (options["colour"], options["cluster"]) == ("#8e24aa", True)  # over 40 points: clustered
    assert len(features) == 202
    first = features[0]["properties"]
    assert first["_t"] == reading_rooms["ledger"]["名称"].iloc[0]
    assert first["_i"] == '<div style="background:#8e24aa">书</div>'
    assert "类型</th><td>农家书屋" in first["_p"]
    assert overlays["gp-townships"][0] == "镇街：20 分钟覆盖率（人口）— 农家书屋"
    assert overlays["gp-area-0"][0] == "服务范围（20 分钟）— 农家书屋"
    assert overlays["gp-gap-0"][0].startswith("覆盖缺口 — 农家书屋（")  # with the gaps and the people in them
    sites_name, _, sites = overlays["gp-site-0"]
    assert re.fullmatch(r"候选站点 — RR-ADMIN 农家书屋（5 处，20\d\d–20\d\d 年）", sites_name)  # per row, build years
    assert len(sites) == 5
