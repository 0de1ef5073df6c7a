"""`gisplan types`: the facility-type catalogue."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
import pandas as pd

from gisplan.catalogue import load_catalogue
from gisplan.cli.options import catalogue_option, format_table
from gisplan.i18n import _

if TYPE_CHECKING:
    from pathlib import Path


@click.group()
def types() -> None:
    """The facility-type catalogue (a TOML file: add types without code)."""


@types.command("list")
@catalogue_option
def types_list(catalogue_files: tuple[Path, ...]) -> None:
    """List facility types: id, names, coverage rule, default threshold, plan rows.

    \b
    Example:
      gisplan types list --catalogue my_types.toml
    """
    cat = load_catalogue(*catalogue_files)
    rows = [{
        "id": t.id, "中文名": t.name_zh, "name": t.name_en, "coverage": "+".join(t.coverage),
        "level": t.admin_level, "profile": f"{t.profile} ≤{t.max_minutes:g} min", "plan rows": "; ".join(t.plan_rows),
    } for t in cat.types.values()]
    click.echo(format_table(pd.DataFrame(rows)))


@types.command("show")
@click.argument("type_id")
@catalogue_option
def types_show(type_id: str, catalogue_files: tuple[Path, ...]) -> None:
    """Show one facility type with its required and optional attributes and accepted headers."""
    cat = load_catalogue(*catalogue_files)
    t = cat.get_type(type_id)
    click.echo(f"{t.id}: {t.name_zh} / {t.name_en}")
    click.echo(_("coverage: {coverage}; level: {admin_level} ({admin_scope}); profile: {profile}, {max_minutes:g} "
                 "min").format(
            coverage=', '.join(t.coverage), admin_level=t.admin_level, admin_scope=t.admin_scope, profile=t.profile,
            max_minutes=t.max_minutes))
    if t.min_population:
        click.echo(_("required in every township of ≥ {min_population:,} residents").format(
                min_population=t.min_population))
    click.echo(_("plan rows: {plan_rows}").format(plan_rows='; '.join(t.plan_rows)))
    for label, names in (("required", t.required), ("optional", t.optional)):
        for name in names:
            a = cat.attributes[name]
            unit = f" [{a.unit}]" if a.unit else ""
            click.echo(_("  {label:8} {name}{unit} ({dtype}); headers: {aliases}").format(
                    label=label, name=name, unit=unit, dtype=a.dtype, aliases=', '.join(a.aliases)))
            for value in sorted(set(a.values.values())):
                spellings = [k for k, v in a.values.items() if v == value and k != value]
                click.echo(f"           {value}: {', '.join(spellings)}")
