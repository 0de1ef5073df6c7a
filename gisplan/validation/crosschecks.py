"""Checks of a layer against the workspace: the gazetteer, the boundaries and other layers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan import divisions
from gisplan.crs import to_planning_crs
from gisplan.validation.rules import Context, _check_unique, _Collector, _geometry_field, _show
from gisplan.vocab import Level

if TYPE_CHECKING:
    from gisplan.catalogue import FacilityType

logger = logging.getLogger(__name__)

_LEVELS_OF = {"district": ("district",), "townships": ("township",), "villages": ("village",),
              "households": ("village", "township")}


def _kind_checks(
    df: pd.DataFrame,
    kind: str,
    mapping: dict[str, str],
    ftype: FacilityType | None,
    ctx: Context,
    usable: np.ndarray,
    col: _Collector,
    host: FacilityType | None = None,
) -> None:
    """Checks by layer kind; `host` is the type hosting `ftype`'s facilities (its catalogue ``host``)."""
    field = mapping.get
    if kind == "gazetteer":
        _gazetteer_checks(df, mapping, col)
        return
    if "facility_id" in df:
        _check_unique(df["facility_id"], field("facility_id", "facility_id"), col)
    if kind in {"townships", "villages"} and "code12" not in df:
        _codes_from_names(df, mapping, kind, ctx, col)
    if kind in {"townships", "villages", "households"} and "code12" in df:
        _check_unique(df["code12"], field("code12", "code12"), col)
    if kind == "district" and len(df) != 1:
        col.table(None, f"a district layer must have exactly 1 feature (got {len(df)}).",
                  "dissolve the parts into one (Multi)Polygon first.")
    if kind == "facilities" and ftype is not None:  # layer_schema refused facilities without a type
        _resolve_names(df, mapping, ftype, ctx, col)
    elif "code12" in df and ctx.gazetteer is not None:
        _codes_in_gazetteer(df, mapping, ctx.gazetteer, col, levels=_LEVELS_OF[kind])
    elif kind == "households":
        col.table(None, "the workspace has no gazetteer, so the households' division codes cannot be checked.",
                  "import the 统计用区划代码 first: `gisplan layers import <gazetteer.csv> --kind gazetteer`.")
    _value_checks(df, kind, mapping, col)
    if kind == "facilities" and ftype is not None and host is not None:
        _host_checks(df, mapping, ftype, host, ctx, col)
    if isinstance(df, gpd.GeoDataFrame) and kind in {"facilities", "households"}:
        _location_checks(df, mapping, ctx, usable, col)
    elif kind in {"townships", "villages"} and ctx.district is not None and isinstance(df, gpd.GeoDataFrame):
        _location_checks(df, mapping, ctx, usable, col, in_townships=False)


def _no_match(names: pd.Series, pool: pd.DataFrame, what: str) -> Any:
    """Per-row message for a name that matches no division, with the nearest standard names."""

    def message(i: int) -> str:
        name = str(names.iloc[i])
        sug = divisions.name_suggestions(name, pool["name"])
        hint = f" Did you mean {' / '.join(sug)}?" if sug else ""
        return f"{name!r} matches no {what} in the gazetteer.{hint}"

    return message


def _match(
    names: pd.Series, pool: pd.DataFrame, what: str, field: str, col: _Collector, *, within: pd.Series | None = None
) -> pd.Series:
    """Codes for division names; unknown and ambiguous names are recorded as problems."""
    codes, ambiguous = divisions.match_names(names, pool, within=within)
    col.at(ambiguous.to_numpy(), field,
           lambda i: f"{_show(names.iloc[i])} names more than one {what} in the gazetteer.",
           "add the 12-digit code (区划代码), or the township, to tell them apart.")
    unknown = (names.notna() & codes.isna() & ~ambiguous).to_numpy()
    col.at(unknown, field, _no_match(names, pool, what),
           f"write the standard {what} name (标准地名, as in the gazetteer), e.g. 胜利路街道, not 胜利路街道办事处.")
    return codes


def _value_checks(df: pd.DataFrame, kind: str, mapping: dict[str, str], col: _Collector) -> None:
    """Checks between the values of one row: nursing beds within beds, population above households."""
    field = mapping.get
    if "beds" in df and "nursing_beds" in df:
        over = (df["nursing_beds"] > df["beds"]).fillna(False).to_numpy()
        col.at(over, field("nursing_beds"), lambda i: f"nursing beds ({df['nursing_beds'].iloc[i]}) exceed "
               f"beds ({df['beds'].iloc[i]}).", "nursing beds (护理型床位) are part of all beds; correct one of them.")
    if kind == "households" and "population" in df:
        low = (df["population"] < df["households"]).fillna(False).to_numpy()
        col.at(low, field("population"), lambda i: f"population ({df['population'].iloc[i]}) is smaller than "
               f"households ({df['households'].iloc[i]}).", "check whether the two columns are swapped.")
        if "pop_60plus" in df:
            big = (df["pop_60plus"] > df["population"]).fillna(False).to_numpy()
            col.at(big, field("pop_60plus"), "persons aged 60+ exceed the population.", "correct one of them.")


def _codes_from_names(df: pd.DataFrame, mapping: dict[str, str], kind: str, ctx: Context, col: _Collector) -> None:
    """Fill ``code12`` of boundary polygons from their standard names (exact or short form)."""
    if ctx.gazetteer is None:
        col.table("code12", "the layer has no code column and the workspace has no gazetteer to look the names "
                  "up in.", "import the gazetteer first (`--kind gazetteer`), or add a 12-digit code column.")
        return
    level = "township" if kind == "townships" else "village"
    gaz = ctx.gazetteer
    pool = gaz[divisions.division_level(gaz["code12"]) == level]
    df["code12"] = _match(df["name"], pool, level, mapping.get("name", "name"), col)
    df["name"] = df["code12"].map(pool.set_index("code12")["name"]).fillna(df["name"])


def _gazetteer_checks(df: pd.DataFrame, mapping: dict[str, str], col: _Collector) -> None:
    if "code12" not in df:
        return
    field = mapping.get
    _check_unique(df["code12"], field("code12", "code12"), col)
    if "level" in df:
        lvl = df["level"]
        derived = divisions.division_level(df["code12"].fillna("000000000000"))
        expected = derived.map({"district": 3, "township": 4, "village": 5})
        bad = (lvl.notna() & df["code12"].notna() & (lvl != expected)).fillna(False).to_numpy()
        col.at(bad, field("level"), lambda i: f"level {lvl.iloc[i]} does not fit code {df['code12'].iloc[i]} "
               f"(expected {expected.iloc[i]}: 3 district, 4 township, 5 village).", "correct the level or the code.")
    if "parent_code12" in df:
        codes = set(df["code12"].dropna())
        parent = df["parent_code12"]
        is_top = divisions.division_level(df["code12"].fillna("000000000000")) == "district"
        orphan = (~is_top & parent.notna() & ~parent.isin(codes)).to_numpy()
        col.at(orphan, field("parent_code12"), lambda i: f"parent {parent.iloc[i]} is not in the gazetteer.",
               "add the parent division or correct the code.")
        code = df["code12"].fillna("000000000000")
        is_village = divisions.division_level(code) == "village"
        same = (code.str.slice(0, 6) == parent.str.slice(0, 6)) & (
            ~is_village | (code.str.slice(0, 9) == parent.str.slice(0, 9)))
        mismatch = (df["code12"].notna() & parent.notna() & ~is_top & ~same).fillna(False).to_numpy(dtype=bool)
        col.at(mismatch, field("parent_code12"), lambda i: f"code {df['code12'].iloc[i]} does not start with its "
               f"parent's digits ({parent.iloc[i]}).", "correct the code or the parent code.")


def _codes_in_gazetteer(
    df: pd.DataFrame, mapping: dict[str, str], gaz: pd.DataFrame, col: _Collector, levels: tuple[str, ...],
    *, field: str | None = None,
) -> None:
    """Codes exist in the gazetteer and are at one of `levels`; a division's own name agrees with it.

    `field` names the column in messages (default the code column); the name check applies to
    division layers only (a facility's `name` is its own).
    """
    field = field or mapping.get("code12", "code12")
    known = df["code12"].isin(gaz["code12"])
    unknown = (df["code12"].notna() & ~known).to_numpy()
    district6 = gaz["code12"].str.slice(0, 6).mode().iloc[0]
    col.at(unknown, field, lambda i: f"code {df['code12'].iloc[i]} is not in the gazetteer"
           + (f" (the gazetteer covers district {district6})." if not str(df['code12'].iloc[i]).startswith(district6)
              else "."), "check the code against the 统计用区划代码 list (`gisplan layers show gazetteer`).")
    lvl = divisions.division_level(df["code12"].fillna("000000000000"))
    wrong = (df["code12"].notna() & known & ~lvl.isin(levels)).to_numpy()
    expected = " or ".join(levels)
    col.at(wrong, field, lambda i: f"code {df['code12'].iloc[i]} is a {lvl.iloc[i]} code; "
           f"a {expected} code is expected here.", f"give the {expected}'s 12-digit code.")
    if "name" in df and "facility_id" not in df:
        names = gaz.set_index("code12")["name"]
        declared = df["code12"].map(names)
        differ = (known & df["name"].notna() & (df["name"] != declared)
                  & (df["name"].map(lambda s: divisions.short_name(str(s))) != declared.map(
                      lambda s: divisions.short_name(str(s))))).to_numpy()
        col.at(differ, mapping.get("name", "name"), lambda i: f"name {_show(df['name'].iloc[i])} differs from the "
               f"gazetteer's {_show(declared.iloc[i])} for code {df['code12'].iloc[i]}.",
               "use the standard name (标准地名) or correct the code.")


def _resolve_names(
    df: pd.DataFrame, mapping: dict[str, str], ftype: FacilityType, ctx: Context, col: _Collector
) -> None:
    """Check codes and division names; fill ``code12`` from names where only names are given."""
    gaz = ctx.gazetteer
    has_code = "code12" in df
    if "code12" not in df:
        df["code12"] = None
    if "township" not in df and "village" not in df and not has_code:
        col.table("code12", "the layer gives neither a division code nor a township/village name.",
                  "add a 区划代码 column (12 digits), or 所属镇街 / 所属村社区 name columns.")
        return
    if gaz is None:
        col.table(None, "the workspace has no gazetteer, so division codes and names cannot be checked.",
                  "import the 统计用区划代码 first: `gisplan layers import <gazetteer.csv> --kind gazetteer`.")
        return
    level = divisions.division_level(gaz["code12"])
    townships, villages = gaz[level == "township"], gaz[level == "village"]
    resolved = df["code12"].copy()
    if "township" in df:
        field = mapping["township"]
        t_codes = _match(df["township"], townships, "township", field, col)
        resolved = resolved.where(resolved.notna() | t_codes.isna(), t_codes)
        both = (df["code12"].notna() & t_codes.notna()
                & (divisions.township_code(df["code12"].fillna("0" * 12)) != t_codes)).to_numpy()
        col.at(both, field, lambda i: f"township {_show(df['township'].iloc[i])} ({t_codes.iloc[i]}) disagrees with "
               f"code {df['code12'].iloc[i]}.", "correct the code or the township name.")
    if "village" in df:
        field = mapping["village"]
        within = resolved.str.slice(0, 9).where(resolved.notna(), None)
        v_codes = _match(df["village"], villages, "village/community", field, col, within=within)
        clash = (df["code12"].notna() & v_codes.notna() & (df["code12"] != v_codes)).to_numpy()
        col.at(clash, field, lambda i: f"village {_show(df['village'].iloc[i])} ({v_codes.iloc[i]}) disagrees with "
               f"code {df['code12'].iloc[i]}.", "correct the code or the village name.")
        take = v_codes.notna() & (resolved.isna() | (ftype.admin_level is Level.VILLAGE))
        resolved = resolved.where(~take, v_codes)
    df["code12"] = resolved
    code_field = mapping.get("code12", mapping.get("township", mapping.get("village", "code12")))
    if "township" in df or "village" in df:
        no_link = (df["code12"].isna() & df.get("township", pd.Series(None, index=df.index)).isna()
                   & df.get("village", pd.Series(None, index=df.index)).isna()).to_numpy()
        col.at(no_link, code_field, "the row gives no division code and no township/village name.",
               "fill in the 12-digit code or the township/village name.")
    levels = ("village",) if ftype.admin_level is Level.VILLAGE else ("township", "village")
    _codes_in_gazetteer(df, mapping, gaz, col, levels, field=code_field)


def _host_checks(
    df: pd.DataFrame, mapping: dict[str, str], ftype: FacilityType, host: FacilityType, ctx: Context, col: _Collector,
) -> None:
    """Every row names a facility of its host type (``host_facility_id``) and carries its host's code."""
    hosts = ctx.facilities.get(host.id)
    if hosts is None or "host_facility_id" not in df:
        logger.warning("%s: no %s layer yet; hosts not checked", ftype.id, host.id)
        return
    host_code = hosts.set_index("facility_id")["code12"]
    field = mapping["host_facility_id"]
    missing = (df["host_facility_id"].notna() & ~df["host_facility_id"].isin(host_code.index)).to_numpy()
    col.at(missing, field, lambda i: f"host {_show(df['host_facility_id'].iloc[i])} is not a "
           f"{host.name_en.lower()} in this workspace.", f"give the facility_id of the hosting {host.name_zh}.")
    declared = df["host_facility_id"].map(host_code)
    differ = (declared.notna() & df["code12"].notna() & (declared != df["code12"])).to_numpy()
    col.at(differ, mapping.get("code12", field), lambda i: f"code {df['code12'].iloc[i]} differs from its host's "
           f"{declared.iloc[i]}.", f"a {ftype.name_en.lower()} sits in its host {host.name_en.lower()}: use the "
           "host's code.")


def _location_checks(
    gdf: gpd.GeoDataFrame, mapping: dict[str, str], ctx: Context, usable: np.ndarray, col: _Collector,
    *, in_townships: bool = True,
) -> None:
    """Each feature lies in the district and, for coded rows, in the township its code declares.

    Distances are measured in the planning CRS (the scenario's, else the data's UTM zone); a feature
    counts as inside when it is within ``ctx.tolerance_m`` metres, since boundary layers disagree by
    tens of metres. Polygons are represented by a point on their surface.
    """
    if ctx.district is None:
        col.table(None, "the workspace has no district outline, so locations cannot be checked.",
                  "import it first: `gisplan layers import <district file> --kind district`.")
        return
    ok = usable & shapely.is_valid(gdf.geometry.to_numpy())
    if not ok.any():
        return
    probes = np.full(len(gdf), None, dtype=object)
    geoms = gdf.geometry.to_numpy()
    metric = to_planning_crs(gpd.GeoDataFrame(geometry=geoms[ok], crs=gdf.crs), ctx.planning_crs)
    probes[ok] = shapely.point_on_surface(metric.geometry.to_numpy())
    district = to_planning_crs(ctx.district, metric.crs)
    outline = shapely.union_all(district.geometry.to_numpy())
    outside_m = np.zeros(len(gdf))
    outside_m[ok] = shapely.distance(outline, probes[ok])
    name = str(district["name"].iloc[0]) if "name" in district else "the district"
    outside = ok & (outside_m > ctx.tolerance_m)
    what = "point" if (gdf.geom_type == "Point").all() else "feature"
    col.at(outside, _geometry_field(mapping), lambda i: f"the {what} lies {outside_m[i]:,.0f} m outside {name}.",
           "check the coordinates and their CRS: 高德/腾讯 points are gcj02 and 百度 points bd09 "
           "(a wrong CRS shifts points 300–500 m).")
    if not in_townships or ctx.townships is None or "code12" not in gdf:
        return
    towns = to_planning_crs(ctx.townships, metric.crs).reset_index(drop=True)
    declared = divisions.township_code(gdf["code12"].fillna("0" * 12))
    check = ok & ~outside & gdf["code12"].notna().to_numpy() & declared.isin(towns["code12"]).to_numpy()
    if not check.any():
        return
    idx = np.flatnonzero(check)
    own = np.asarray(towns.set_index("code12").geometry.loc[declared.iloc[idx]], dtype=object)
    from_own_m = shapely.distance(own, probes[idx])
    away = idx[from_own_m > ctx.tolerance_m]
    found = {int(r): "no township polygon" for r in away}
    hit_probe, hit_town = shapely.STRtree(towns.geometry.to_numpy()).query(probes[away], predicate="intersects")
    for p, t in zip(hit_probe, hit_town, strict=True):
        found[int(away[p])] = f"{towns['name'].iloc[t]} ({towns['code12'].iloc[t]})"
    distance_m = dict(zip(idx.tolist(), from_own_m.tolist(), strict=True))
    mask = np.zeros(len(gdf), dtype=bool)
    mask[away] = True
    col.at(mask, mapping.get("code12", "code12"), lambda i: f"the {what} falls in {found[i]}, {distance_m[i]:,.0f} m "
           f"from township {declared.iloc[i]} that its code {gdf['code12'].iloc[i]} declares.",
           "correct the code, or the coordinates (and their CRS) if the point is misplaced.")
