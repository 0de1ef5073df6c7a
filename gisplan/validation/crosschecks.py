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
from gisplan.i18n import N_, _, language
from gisplan.toponym import match_names, name_keys, name_suggestions, register_names
from gisplan.validation.rules import (
    PLAUSIBLE_MAX,
    Context,
    _check_unique,
    _Collector,
    _geometry_field,
    _show,
    per_context,
)
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
        col.table(None, _("a district layer must have exactly 1 feature (got {n}).").format(n=len(df)),
                  "dissolve the parts into one (Multi)Polygon first.")
    if kind == "facilities" and ftype is not None:  # layer_schema refused facilities without a type
        _resolve_names(df, mapping, ftype, ctx, col)
    elif "code12" in df and ctx.gazetteer is not None:
        _codes_in_gazetteer(df, mapping, ctx.gazetteer, col, levels=_LEVELS_OF[kind])
    elif kind == "households":
        col.table(None, "the workspace has no gazetteer, so the households' division codes cannot be checked.",
                  "import the 统计用区划代码 first: `gisplan layers import <gazetteer.csv> --kind gazetteer`.")
    _value_checks(df, kind, mapping, col)
    if not ctx.accept_large:
        _plausibility_checks(df, mapping, col)
    if kind == "facilities" and ftype is not None and host is not None:
        _host_checks(df, mapping, ftype, host, ctx, col)
    if isinstance(df, gpd.GeoDataFrame):
        _geometry_checks(df, kind, mapping, ctx, usable, col)


def _geometry_checks(
    gdf: gpd.GeoDataFrame, kind: str, mapping: dict[str, str], ctx: Context, usable: np.ndarray, col: _Collector,
) -> None:
    """Where features lie: in the district (and their township); division polygons not drawn twice."""
    if kind in {"facilities", "households"}:
        _location_checks(gdf, mapping, ctx, usable, col)
    elif kind in {"townships", "villages"}:
        if ctx.district is not None:
            _location_checks(gdf, mapping, ctx, usable, col, in_townships=False)
        _overlap_checks(gdf, ctx, usable, col)


#: the words of the division levels and geometries, as they appear inside messages (translated where shown)
_WORDS = {"district": N_("district"), "township": N_("township"), "village": N_("village"), "point": N_("point"),
          "feature": N_("feature")}


def _word(word: str) -> str:
    """A level or geometry word (``"township"`` …) in the interface language; `` or ``-joined words too."""
    return _(" or ").join(_(_WORDS.get(w, w)) for w in word.split(" or "))


def _type_name(ftype: FacilityType) -> str:
    """A facility type's name inside a message: its Chinese name in Chinese, its English name in lower case else."""
    return ftype.name_zh if language() == "zh" else ftype.name_en.lower()


def _no_match(names: pd.Series, pool: pd.DataFrame, what: str) -> Any:
    """Per-row message for a name that matches no division, with the nearest standard names."""

    def message(i: int) -> str:
        name = str(names.iloc[i])
        sug = name_suggestions(name, pool["name"])
        hint = _(" Did you mean {sug}?").format(sug=' / '.join(sug)) if sug else ""
        return _("{name!r} matches no {what} in the gazetteer.").format(name=name, what=_word(what)) + hint

    return message


def _match(
    names: pd.Series, pool: pd.DataFrame, what: str, field: str, col: _Collector, *, within: pd.Series | None = None,
    notes: pd.Series | None = None,
) -> pd.Series:
    """Codes for division names; unknown and ambiguous names are recorded as problems. A name that is a unit's
    former name (the register's 历史地名, in a `pool` from :func:`gisplan.toponym.register_names`) is matched,
    and `notes` gets "XX 为历史地名，今 YY" on its row."""
    found = match_names(names, pool, within=within)
    codes, ambiguous = found.code12, found.ambiguous
    col.at(ambiguous.to_numpy(), field,
           lambda i: _("{names} names more than one {what} in the gazetteer.").format(
                   names=_show(names.iloc[i]), what=_word(what)),
           "add the 12-digit code (区划代码), or the township, to tell them apart.")
    unknown = (names.notna() & codes.isna() & ~ambiguous).to_numpy()
    col.at(unknown, field, _no_match(names, pool, what),
           _("write the standard {what} name (标准地名, as in the gazetteer) or its short form "
             "(朱龙花村 for 朱龙花村村民委员会, 中山路社区 for 中山路社区居民委员会).").format(what=_word(what)))
    old = found.former.notna()
    if notes is not None and old.any():
        notes[old] = [f"{w} 为历史地名，今 {c} (former name)" for w, c in zip(names[old], found.former[old],
                                                                          strict=True)]
    return codes


def _value_checks(df: pd.DataFrame, kind: str, mapping: dict[str, str], col: _Collector) -> None:
    """Checks between the values of one row: nursing beds within beds, population above households."""
    field = mapping.get
    if "beds" in df and "nursing_beds" in df:
        over = (df["nursing_beds"] > df["beds"]).fillna(False).to_numpy()
        col.at(over, field("nursing_beds"), lambda i: _("nursing beds ({nursing_beds}) exceed beds ({beds}).").format(
                nursing_beds=df['nursing_beds'].iloc[i], beds=df['beds'].iloc[i]),
               "nursing beds (护理型床位) are part of all beds; correct one of them.")
    if kind == "households" and "population" in df:
        low = (df["population"] < df["households"]).fillna(False).to_numpy()
        col.at(low, field("population"), lambda i: _("population ({population}) is smaller than households "
                                                     "({households}).").format(
                population=df['population'].iloc[i], households=df['households'].iloc[i]),
               "check whether the two columns are swapped.")
        if "pop_60plus" in df:
            big = (df["pop_60plus"] > df["population"]).fillna(False).to_numpy()
            col.at(big, field("pop_60plus"), "persons aged 60+ exceed the population.", "correct one of them.")


#: two sibling polygons sharing more than this share of the smaller one are one unit drawn twice (a real gap or
#: overlap between neighbours is a sliver: 永川's largest, 南大街/卫星湖, is 1.51 km² of townships of 20–100 km²)
_OVERLAP_SHARE = 0.5


def _overlap_checks(gdf: gpd.GeoDataFrame, ctx: Context, usable: np.ndarray, col: _Collector) -> None:
    """A division polygon that (nearly) covers another of the same layer is refused, naming both."""
    ok = np.flatnonzero(usable & shapely.is_valid(gdf.geometry.to_numpy()))
    if len(ok) < 2:
        return
    metric = to_planning_crs(gpd.GeoDataFrame(geometry=gdf.geometry.to_numpy()[ok], crs=gdf.crs), ctx.planning_crs)
    geoms = metric.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms)  # boxes that meet (no GEOS predicate: pairs that do not
    pairs = left < right  # intersect share nothing below)
    left, right = left[pairs], right[pairs]
    # neighbours touch along their border: only a pair whose bounding boxes overlap by more than the share of the
    # smaller polygon can overlap that much, and only such pairs are intersected (GEOS's costliest step here)
    areas = shapely.area(geoms)
    smaller = np.minimum(areas[left], areas[right])
    bounds = shapely.bounds(geoms)
    box = (np.clip(np.minimum(bounds[left, 2], bounds[right, 2]) - np.maximum(bounds[left, 0], bounds[right, 0]),
                   0, None)
           * np.clip(np.minimum(bounds[left, 3], bounds[right, 3]) - np.maximum(bounds[left, 1], bounds[right, 1]),
                     0, None))
    could = (smaller > 0) & (box > _OVERLAP_SHARE * smaller)
    left, right, smaller = left[could], right[could], smaller[could]
    # each polygon clipped to the other's bounding box bounds what they share from above; only pairs whose bound
    # does not rule the share out (with a margin for rounding) are intersected. GEOS clips to a rectangle in one
    # pass over the ring (on 永川's 320 village pairs 0.004 s, where the overlays took 0.08 s and an overlay with
    # the boxes 0.03 s); shapely takes one rectangle per call, so the pairs are clipped one by one
    bound = np.minimum(_clipped_areas(geoms[left], bounds[right]), _clipped_areas(geoms[right], bounds[left]))
    could = bound > _OVERLAP_SHARE * smaller * (1.0 - 1e-6)
    left, right, smaller = left[could], right[could], smaller[could]
    if not len(left):
        return
    shared = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    share = shared / smaller
    hit = share > _OVERLAP_SHARE
    names = gdf["name"].astype(str).to_numpy() if "name" in gdf else np.full(len(gdf), "")
    mask = np.zeros(len(gdf), dtype=bool)
    other: dict[int, tuple[int, float, float]] = {}
    for a, b, km2, frac in zip(ok[left[hit]], ok[right[hit]], shared[hit] / 1e6, share[hit], strict=True):
        mask[b] = True
        other.setdefault(int(b), (int(a), float(km2), float(frac)))
    col.at(mask, "geometry", lambda i: _("the polygon of {name} overlaps that of {other_name} (row {other_row}) by "
                                         "{km2:,.2f} km², {share:.0%} of the smaller one: one unit is drawn "
                                         "twice or in the wrong place.").format(
            name=names[i], other_name=names[other[i][0]], other_row=col.rows[other[i][0]], km2=other[i][1],
            share=other[i][2]), "check both polygons (QGIS: Vector › Geometry Tools › Check "
           "Validity / the Topology Checker) and keep each unit's own outline.")


def _clipped_areas(geoms: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """The area of each polygon of `geoms` inside the rectangle (xmin, ymin, xmax, ymax) of the same row of
    `rects`."""
    # one call per pair: shapely's clip_by_rect takes one rectangle (its ufunc takes arrays of them only through
    # the private shapely.lib); the vectorised alternative, an intersection with box polygons, is a full overlay
    # and was 6x slower on 永川's pairs (only pairs whose boxes meet get here: hundreds, not n²)
    return np.array([shapely.area(shapely.clip_by_rect(g, *r)) for g, r in zip(geoms, rects.tolist(), strict=True)],
                    dtype=float)


def _plausibility_checks(df: pd.DataFrame, mapping: dict[str, str], col: _Collector) -> None:
    """Magnitudes far beyond any real one (a population or floor area 10⁶× too large) are refused."""
    for name, limit in PLAUSIBLE_MAX.items():
        if name not in df or not pd.api.types.is_numeric_dtype(df[name]):
            continue
        values = df[name].astype("float64").to_numpy(na_value=np.nan)
        high = np.nan_to_num(values) > limit
        col.at(high, mapping.get(name, name), lambda i, n=name, lim=limit, v=values: (
            _("{v:,.0f} is implausibly large for `{n}` (at most {lim:,} is plausible on one row).").format(
                v=v[i], n=n, lim=lim)),
            "check the unit and the digits; if the value is right, import with `--accept-large` "
            "(scenario: accept_large = true in the [[layer]]).")


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
        col.at(bad, field("level"), lambda i: _("level {lvl} does not fit code {code12} (expected {expected}: 3 "
                                                "district, 4 township, 5 village).").format(
                lvl=lvl.iloc[i], code12=df['code12'].iloc[i], expected=expected.iloc[i]),
               "correct the level or the code.")
    if "parent_code12" in df:
        codes = set(df["code12"].dropna())
        parent = df["parent_code12"]
        is_top = divisions.division_level(df["code12"].fillna("000000000000")) == "district"
        orphan = (~is_top & parent.notna() & ~parent.isin(codes)).to_numpy()
        col.at(orphan, field("parent_code12"), lambda i: _("parent {parent} is not in the gazetteer.").format(
                parent=parent.iloc[i]),
               "add the parent division or correct the code.")
        code = df["code12"].fillna("000000000000")
        is_village = divisions.division_level(code) == "village"
        same = (code.str.slice(0, 6) == parent.str.slice(0, 6)) & (
            ~is_village | (code.str.slice(0, 9) == parent.str.slice(0, 9)))
        mismatch = (df["code12"].notna() & parent.notna() & ~is_top & ~same).fillna(False).to_numpy(dtype=bool)
        col.at(mismatch, field("parent_code12"), lambda i: _("code {code12} does not start with its parent's "
                                                             "digits ({parent}).").format(
                code12=df['code12'].iloc[i], parent=parent.iloc[i]), "correct the code or the parent code.")


def _codes_in_gazetteer(
    df: pd.DataFrame, mapping: dict[str, str], gaz: pd.DataFrame, col: _Collector, levels: tuple[str, ...],
    *, field: str | None = None, check_names: bool = True, typed: np.ndarray | None = None,
) -> None:
    """Codes exist in the gazetteer and are at one of `levels`; a division's own name agrees with it.

    `field` names the column in messages (default the code column). The name check applies to division
    layers only (`check_names`): a facility's `name` is its own, never a division's. `typed` marks the rows
    whose code the user wrote (the others were filled in from names and were checked as names).
    """
    field = field or mapping.get("code12", "code12")
    typed_rows = np.ones(len(df), dtype=bool) if typed is None else typed
    known = df["code12"].isin(gaz["code12"])
    unknown = (df["code12"].notna() & ~known).to_numpy() & typed_rows
    district6 = per_context("district6", (gaz,), (), lambda: gaz["code12"].str.slice(0, 6).mode().iloc[0])
    col.at(unknown, field, lambda i: _("code {code12} is not in the gazetteer (the gazetteer covers district "
                                       "{district}).").format(code12=df["code12"].iloc[i], district=district6)
           if not str(df["code12"].iloc[i]).startswith(district6)
           else _("code {code12} is not in the gazetteer.").format(code12=df["code12"].iloc[i]),
           "check the code against the 统计用区划代码 list (`gisplan layers show gazetteer`).")
    lvl = divisions.division_level(df["code12"].fillna("000000000000"))
    wrong = (df["code12"].notna() & known & ~lvl.isin(levels)).to_numpy()
    expected = " or ".join(levels)
    col.at(wrong & typed_rows, field, lambda i: _("code {code12} is a {lvl} code; a {expected} code is expected "
                                                  "here.").format(
            code12=df['code12'].iloc[i], lvl=_word(lvl.iloc[i]), expected=_word(expected)),
           _("give the {expected}'s 12-digit code.").format(expected=_word(expected)))
    if not typed_rows.all():
        col.at(wrong & ~typed_rows, field, lambda i: _("the row names only a {lvl}; this layer is counted per "
                                                       "{expected}.").format(
                lvl=_word(lvl.iloc[i]), expected=_word(expected)),
               _("fill in the {expected} (所属村社区 name or its 12-digit code).").format(expected=_word(expected)))
    if check_names and "name" in df:
        names = gaz.set_index("code12")["name"]
        declared = df["code12"].map(names)
        same = (name_keys(df["name"]) == name_keys(declared)).to_numpy(dtype=bool)
        differ = (known & df["name"].notna() & (df["name"] != declared) & ~same).to_numpy()
        col.at(differ, mapping.get("name", "name"), lambda i: _("name {name} differs from the gazetteer's "
                                                                "{declared} for code {code12}.").format(
                name=_show(df['name'].iloc[i]), declared=_show(declared.iloc[i]), code12=df['code12'].iloc[i]),
               "use the standard name (标准地名) or correct the code.")


def _own_township(codes: pd.Series, village_codes: pd.Series) -> pd.Series:
    """Where a code is the township code of the village found by name (a township-level ledger stores its
    township's code: it agrees with the villages inside)."""
    given = codes.astype(object).where(codes.notna(), "0" * 12).astype(str)
    town = divisions.township_code(village_codes.astype(object).where(village_codes.notna(), "0" * 12).astype(str))
    return (divisions.division_level(given) == "township") & (town == given)


def _resolve_names(
    df: pd.DataFrame, mapping: dict[str, str], ftype: FacilityType, ctx: Context, col: _Collector
) -> None:
    """Check codes and division names; fill ``code12`` from names where only names are given.

    A code filled in from a name is marked in the private column ``_code_from`` (the name's column), so that
    later messages speak of the name the user wrote, not of a code they never typed.
    """
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
    townships, villages = per_context("names", (gaz, ctx.places), (), lambda: _names_by_level(gaz, ctx.places))
    typed = df["code12"].notna().to_numpy()
    resolved = df["code12"].copy()
    origin = pd.Series(None, index=df.index, dtype=object)
    notes = pd.Series(None, index=df.index, dtype=object)
    reported = np.zeros(len(df), dtype=bool)  # rows whose names were reported already
    if "township" in df:
        field = mapping["township"]
        t_codes = _match(df["township"], townships, "township", field, col, notes=notes)
        reported |= (df["township"].notna() & t_codes.isna()).to_numpy()
        fill = (resolved.isna() & t_codes.notna()).to_numpy()
        resolved = resolved.where(~fill, t_codes)
        origin[fill] = field
        both = (df["code12"].notna() & t_codes.notna()
                & (divisions.township_code(df["code12"].fillna("0" * 12)) != t_codes)).to_numpy()
        col.at(both, field, lambda i: _("township {township} ({t_codes}) disagrees with code {code12}.").format(
                township=_show(df['township'].iloc[i]), t_codes=t_codes.iloc[i], code12=df['code12'].iloc[i]),
               "correct the code or the township name.")
    if "village" in df:
        field = mapping["village"]
        within = resolved.str.slice(0, 9).where(resolved.notna(), None)
        v_codes = _match(df["village"], villages, "village/community", field, col, within=within, notes=notes)
        reported |= (df["village"].notna() & v_codes.isna()).to_numpy()
        clash = (df["code12"].notna() & v_codes.notna() & (df["code12"] != v_codes)
                 & ~_own_township(df["code12"], v_codes)).to_numpy()
        col.at(clash, field, lambda i: _("village {village} ({v_codes}) disagrees with code {code12}.").format(
                village=_show(df['village'].iloc[i]), v_codes=v_codes.iloc[i], code12=df['code12'].iloc[i]),
               "correct the code or the village name.")
        take = (v_codes.notna() & (resolved.isna() | ((ftype.admin_level is Level.VILLAGE) & ~typed))).to_numpy()
        resolved = resolved.where(~take, v_codes)
        origin[take] = field
    df["code12"] = resolved
    df["_code_from"] = origin
    df["_former"] = notes
    code_field = mapping.get("code12", mapping.get("township", mapping.get("village", "code12")))
    if "township" in df or "village" in df:
        no_link = (df["code12"].isna() & df.get("township", pd.Series(None, index=df.index)).isna()
                   & df.get("village", pd.Series(None, index=df.index)).isna()).to_numpy()
        col.at(no_link, code_field, "the row gives no division code and no township/village name.",
               "fill in the 12-digit code or the township/village name.")
    levels = ("village",) if ftype.admin_level is Level.VILLAGE else ("township", "village")
    filled_field = mapping.get("village", code_field) if not has_code else code_field
    # rows whose name was reported already get no second message about the code filled in from another name
    quiet = ~typed & reported
    keep = df["code12"].where(~quiet, None)
    probe = df.assign(code12=keep)
    _codes_in_gazetteer(probe, mapping, gaz, col, levels, field=code_field if has_code else filled_field,
                        check_names=False, typed=typed)


def _names_by_level(gaz: pd.DataFrame, places: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The township and the village names: the gazetteer's, and the register's current and former ones."""
    names = register_names(gaz, places)
    level = divisions.division_level(names["code12"])
    return names[level == "township"], names[level == "village"]


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
    col.at(missing, field, lambda i: _("host {host} is not a {host_type} in this workspace.").format(
            host=_show(df['host_facility_id'].iloc[i]), host_type=_type_name(host)),
           _("give the facility_id of the hosting {name_zh}.").format(name_zh=host.name_zh))
    declared = df["host_facility_id"].map(host_code)
    differ = (declared.notna() & df["code12"].notna() & (declared != df["code12"])).to_numpy()
    col.at(differ, mapping.get("code12", field), lambda i: _("code {code12} differs from its host's "
                                                             "{declared}.").format(
            code12=df['code12'].iloc[i], declared=declared.iloc[i]),
           _("a {facility_type} sits in its host {host_type}: use the host's code.").format(
               facility_type=_type_name(ftype), host_type=_type_name(host)))


def _location_checks(
    gdf: gpd.GeoDataFrame, mapping: dict[str, str], ctx: Context, usable: np.ndarray, col: _Collector,
    *, in_townships: bool = True,
) -> None:
    """Each feature lies in the district and, for coded rows, in the township its code declares.

    Distances are measured in the planning CRS (the scenario's, else the data's UTM zone); a feature
    counts as inside when it is within ``ctx.tolerance_m`` metres, since boundary layers disagree by
    tens of metres. Polygons are represented by a point on their surface. A point outside the district
    outline but inside its own township's polygon (the shipped 来苏镇 polygon pokes 3.5 km² beyond the 永川区
    outline) is accepted with a warning that the two boundary layers disagree there.
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
    district, outline = per_context("outline", (ctx.district,), (str(metric.crs),),
                                    lambda: _outline(ctx.district, metric.crs))  # type: ignore[arg-type]
    outside_m = np.zeros(len(gdf))
    outside_m[ok] = shapely.distance(outline, probes[ok])
    name = str(district["name"].iloc[0]) if "name" in district else "the district"
    what = "point" if (gdf.geom_type == "Point").all() else "feature"
    beyond = ok & (outside_m > ctx.tolerance_m)
    towns = None
    if in_townships and ctx.townships is not None and len(ctx.townships):
        towns = per_context("towns", (ctx.townships,), (str(metric.crs),),
                            lambda: to_planning_crs(ctx.townships, metric.crs).reset_index(drop=True))  # type: ignore[arg-type]
    town_m, town_at = _township_distance(gdf, towns, probes, beyond)
    rescued = beyond & (town_m <= ctx.tolerance_m)
    if rescued.any() and towns is not None:
        _warn_boundaries_disagree(rescued, outside_m, town_at, towns, name, what, col)

    def outside_message(i: int) -> str:
        if towns is not None and town_at[i] >= 0:
            return _("the {what} lies {outside_m:,.0f} m outside {name} and {town_m:,.0f} m from township "
                     "{township}.").format(what=_word(what), outside_m=outside_m[i], name=name, town_m=town_m[i],
                                           township=towns["name"].iloc[town_at[i]])
        return _("the {what} lies {outside_m:,.0f} m outside {name}.").format(
            what=_word(what), outside_m=outside_m[i], name=name)

    refused = beyond & ~rescued
    far = refused & (outside_m > _FAR_M)
    col.at(refused & ~far, _geometry_field(mapping), outside_message,
           "check the coordinates and their CRS: 高德/腾讯 points are gcj02 and 百度 points bd09 "
           "(a wrong CRS shifts points 300–500 m); if the boundary layers are wrong there, `--tolerance-m` widens "
           "the check for this layer.")
    col.at(far, _geometry_field(mapping), outside_message,
           "the point is far beyond what a coordinate-system offset (300–500 m) explains: check that the row "
           "belongs to this district and that longitude and latitude are typed right (and, for projected x/y, "
           "the --crs).")
    if towns is None or "code12" not in gdf:
        return
    _own_township_checks(gdf, mapping, towns, probes, ok & ~(beyond & ~rescued), what, ctx, col)


def _outline(district: gpd.GeoDataFrame, crs: Any) -> tuple[gpd.GeoDataFrame, Any]:
    """The district layer in `crs` and its outline (one geometry)."""
    projected = to_planning_crs(district, crs)
    return projected, shapely.union_all(projected.geometry.to_numpy())


#: beyond this many metres a point is not shifted by a GCJ-02/BD-09 mix-up (≤ ~0.6 km) but elsewhere
_FAR_M = 5_000.0


def _township_distance(
    gdf: gpd.GeoDataFrame, towns: gpd.GeoDataFrame | None, probes: np.ndarray, rows: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """For `rows`: metres to the township the row's code declares (else to the nearest township), and that
    township's position in `towns` (-1 where none)."""
    dist = np.full(len(gdf), np.inf)
    at = np.full(len(gdf), -1, dtype=np.int64)
    if towns is None or not rows.any():
        return dist, at
    idx = np.flatnonzero(rows)
    position = pd.Series(np.arange(len(towns)), index=towns["code12"].astype(str))
    position = position[~position.index.duplicated()]
    if "code12" in gdf:
        declared = divisions.township_code(gdf["code12"].fillna("0" * 12).astype(str)).iloc[idx]
        own = declared.map(position).to_numpy(dtype=float)
    else:
        own = np.full(len(idx), np.nan)
    known = ~np.isnan(own)
    if known.any():
        k = own[known].astype(np.int64)
        at[idx[known]] = k
        dist[idx[known]] = shapely.distance(towns.geometry.to_numpy()[k], probes[idx[known]])
    if (~known).any():
        near_probe, near_town = shapely.STRtree(towns.geometry.to_numpy()).query_nearest(
            probes[idx[~known]], all_matches=False)
        rows_ = idx[~known][near_probe]
        at[rows_] = near_town
        dist[rows_] = shapely.distance(towns.geometry.to_numpy()[near_town], probes[rows_])
    return dist, at


def _warn_boundaries_disagree(
    rescued: np.ndarray, outside_m: np.ndarray, town_at: np.ndarray, towns: gpd.GeoDataFrame, name: str, what: str,
    col: _Collector,
) -> None:
    """Log, per accepted row, that the point is in its township's polygon but outside the district outline."""
    idx = np.flatnonzero(rescued)
    for i in idx[:_MAX_WARNINGS]:
        t = town_at[i]
        logger.warning(_("{source}, row {row}: the {what} lies {outside_m:,.0f} m outside the {name} outline but "
                         "inside township {township} ({code12}): the two boundary layers disagree there; accepted "
                         "as inside {township}.").format(
            source=col.source, row=col.rows[i], what=_word(what), outside_m=outside_m[i], name=name,
            township=towns["name"].iloc[t], code12=towns["code12"].iloc[t]))
    if len(idx) > _MAX_WARNINGS:
        logger.warning(_("{source}: … and {n} more rows inside their township but outside the {name} outline.").format(
            source=col.source, n=len(idx) - _MAX_WARNINGS, name=name))


_MAX_WARNINGS = 20


def _own_township_checks(
    gdf: gpd.GeoDataFrame, mapping: dict[str, str], towns: gpd.GeoDataFrame, probes: np.ndarray, ok: np.ndarray,
    what: str, ctx: Context, col: _Collector,
) -> None:
    """A coded row lies in (or within the tolerance of) the township its code declares."""
    declared = divisions.township_code(gdf["code12"].fillna("0" * 12))
    check = ok & gdf["code12"].notna().to_numpy() & declared.isin(towns["code12"]).to_numpy()
    if not check.any():
        return
    idx = np.flatnonzero(check)
    by_code = per_context("towns by code", (towns,), (), lambda: towns.drop_duplicates("code12").set_index("code12"))
    own = np.asarray(by_code.geometry.loc[declared.iloc[idx]], dtype=object)
    from_own_m = shapely.distance(own, probes[idx])
    away = idx[from_own_m > ctx.tolerance_m]
    gap = _("no township polygon (a gap between the township polygons, which the district outline covers: the "
            "boundary layers disagree here)")
    found = dict.fromkeys((int(r) for r in away), gap)
    hit_probe, hit_town = shapely.STRtree(towns.geometry.to_numpy()).query(probes[away], predicate="intersects")
    for p, t in zip(hit_probe, hit_town, strict=True):
        found[int(away[p])] = f"{towns['name'].iloc[t]} ({towns['code12'].iloc[t]})"
    distance_m = dict(zip(idx.tolist(), from_own_m.tolist(), strict=True))
    mask = np.zeros(len(gdf), dtype=bool)
    mask[away] = True
    source = gdf["_code_from"] if "_code_from" in gdf else pd.Series(None, index=gdf.index, dtype=object)
    town_names = by_code["name"]

    def message(i: int) -> str:
        given = source.iloc[i]
        if isinstance(given, str):  # the code was filled in from a name column, not typed
            return _("the {what} falls in {found}, {distance_m:,.0f} m from township {township} that its `{given}` "
                     "names.").format(what=_word(what), found=found[i], distance_m=distance_m[i],
                                      township=town_names.get(declared.iloc[i], declared.iloc[i]), given=given)
        return _("the {what} falls in {found}, {distance_m:,.0f} m from township {township} that its code {code12} "
                 "declares.").format(what=_word(what), found=found[i], distance_m=distance_m[i],
                                     township=declared.iloc[i], code12=gdf["code12"].iloc[i])

    field = mapping.get("code12") or next((mapping[k] for k in ("village", "township") if k in mapping), "code12")
    col.at(mask, field, message, "correct the code or the division names, or the coordinates (and their CRS) "
           "if the point is misplaced.")
