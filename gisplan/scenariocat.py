"""A scenario read against its facility catalogue: the types it names, and the travel profiles in force."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from gisplan.errors import ConfigFileError
from gisplan.i18n import _
from gisplan.profiles import parse_profile
from gisplan.tomllines import TomlProblems

if TYPE_CHECKING:
    from gisplan.catalogue import Catalogue
    from gisplan.config import Scenario
    from gisplan.profiles import Profile

__all__ = ["check_scenario_types", "scenario_profiles"]


def check_scenario_types(scenario: Scenario, catalogue: Catalogue) -> None:
    """Refuse a scenario whose layers or indicator rows name a facility type the catalogue lacks.

    Raises
    ------
    ConfigFileError
        Listing every unknown type with its table and line, and the known types.
    """
    if scenario.path is None:
        text, path = "", Path("scenario")
    else:
        text, path = scenario.path.read_text(encoding="utf-8"), scenario.path
    col = TomlProblems(path, text)
    known = ", ".join(sorted(catalogue.types))
    fix = _("use one of the catalogue's types ({known}), or add a [[type]] to a catalogue file.").format(known=known)
    named = [("layer", i, t.facility_type) for i, t in enumerate(scenario.layers, start=1)]
    named += [("indicator", i, s.facility_type) for i, s in enumerate(scenario.indicators, start=1)]
    for table, i, type_id in named:
        if type_id is not None and type_id not in catalogue.types:
            col.add(table, i, "type", _("`type` {type_id!r} is not a facility type of the catalogue.").format(
                    type_id=type_id), fix)
    if col.problems:
        raise ConfigFileError(col.problems)


def scenario_profiles(scenario: Scenario, catalogue: Catalogue) -> dict[str, Profile]:
    """The travel profiles in force: the catalogue's, with the scenario's walking speeds from
    ``[standard]`` and its ``[profiles.<id>]`` tables on top.

    Raises
    ------
    ConfigError
        If a ``[profiles.<id>]`` table is wrong.
    """
    profiles = dict(catalogue.profiles)
    std = scenario.standard
    for pid, speed in (("walk", std.walk_speed_m_per_min), ("elderly_walk", std.elderly_walk_speed_m_per_min)):
        if pid in profiles:
            prof = profiles[pid]
            access = speed if prof.access_speed_m_per_min == prof.speed_m_per_min else prof.access_speed_m_per_min
            profiles[pid] = replace(prof, speed_m_per_min=speed, access_speed_m_per_min=access)
    where = f"{scenario.path or 'scenario'} [profiles"
    for pid, table in scenario.profiles.items():
        profiles[pid] = parse_profile(pid, dict(table), f"{where}.{pid}]", profiles.get(pid))
    return profiles
