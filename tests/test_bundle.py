"""The offline install bundle (scripts/bundle.sh): built, then installed into a fresh venv by its own install.sh
with pip cut off from the network (its proxies point at a closed loopback port, its config and the machine's
wheel folders ignored).

Two bundles: a small one (gisplan's own wheel and the pure-Python click, GISPLAN_BUNDLE_NO_DEPS=1) that checks the
bundle's parts and that nothing is downloaded; and the full one (gisplan with every dependency, about 40 wheels,
210 MB; built in about 15 s from pip's cache, installed in about 90 s) that is installed with the network closed and
then runs the bundled 珠山 scenario from the bundle's data folder, as an intranet machine would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import TYPE_CHECKING

from tests.conftest import ROOT

if TYPE_CHECKING:
    from pathlib import Path


def _closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _no_network_env(tmp_path: Path) -> dict[str, str]:
    port = _closed_port()
    proxy = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith(("PIP_", "HTTP", "ALL_PROXY", "NO_PROXY", "PYTHONPATH"))}  # a source tree on
    # PYTHONPATH (with the gisplan.egg-info a wheel build leaves) would make pip take gisplan as installed already
    return {**env, "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy, "https_proxy": proxy,
            "ALL_PROXY": proxy, "PIP_CONFIG_FILE": os.devnull, "HOME": str(tmp_path)}


def test_bundle_installs_offline(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    env = {**os.environ, "PYTHON": sys.executable, "GISPLAN_BUNDLE_REQUIREMENTS": ". click",
           "GISPLAN_BUNDLE_NO_DEPS": "1"}
    built = subprocess.run(["bash", str(ROOT / "scripts" / "bundle.sh"), str(out)], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, built.stderr
    wheels = sorted(p.name.split("-")[0] for p in (out / "wheelhouse").glob("*.whl"))
    assert wheels == ["click", "gisplan"]
    assert "python3-venv" in (out / "debian-packages.txt").read_text(encoding="utf-8").splitlines()
    assert (out / "data" / "scenarios" / "yongchuan-2025.toml").is_file()
    assert (out / "data" / "layers" / "README.md").is_file()
    assert "2 wheels" in (out / "MANIFEST.txt").read_text(encoding="utf-8")
    assert "--no-index" in (out / "install.sh").read_text(encoding="utf-8")

    offline = _no_network_env(tmp_path)
    venv = tmp_path / "fresh"
    installed = subprocess.run(["bash", str(out / "install.sh"), str(venv)], env={**offline, "PYTHON": sys.executable},
                               capture_output=True, text=True, timeout=600, check=False)
    assert installed.returncode == 0, installed.stderr
    assert f"installed into {venv}" in installed.stdout
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import click, importlib.metadata as m; fs = {str(f) for f in m.files('gisplan')}; "
         "print(m.version('gisplan'), 'gisplan/data/facility_types.toml' in fs, 'gisplan/cli/roads.py' in fs)"],
        capture_output=True, text=True, timeout=120, check=False, env=offline)
    assert check.stdout.split() == ["0.1.0", "True", "True"], check.stderr
    # the network really is closed to pip: a package that is not in the wheelhouse cannot be had
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--isolated", "install", "--retries", "0", "--timeout", "5"]
    missing = subprocess.run([*pip, "tqdm"], env=offline, capture_output=True, text=True, timeout=300, check=False)
    assert missing.returncode != 0
    assert "tqdm" in missing.stderr
    deps = subprocess.run([*pip, "--no-index", "--find-links", str(out / "wheelhouse"), "gisplan"], env=offline,
                          capture_output=True, text=True, timeout=300, check=False)
    assert deps.returncode != 0  # its dependencies are not in this small bundle, and nothing is downloaded
    assert "No matching distribution found" in deps.stderr


def test_full_bundle_installs_offline_and_runs(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    built = subprocess.run(["bash", str(ROOT / "scripts" / "bundle.sh"), str(out)],
                           env={**os.environ, "PYTHON": sys.executable}, cwd=ROOT,
                           capture_output=True, text=True, timeout=1200, check=False)
    assert built.returncode == 0, built.stderr
    wheels = {p.name.split("-")[0].lower() for p in (out / "wheelhouse").glob("*.whl")}
    assert {"gisplan", "geopandas", "shapely", "pyogrio", "scipy", "highspy", "osmnx", "networkx"} <= wheels
    assert not list((out / "wheelhouse").glob("*.tar.gz"))  # wheels only: nothing to compile on the intranet

    offline = _no_network_env(tmp_path)
    venv = tmp_path / "fresh"
    installed = subprocess.run(["bash", str(out / "install.sh"), str(venv)], env={**offline, "PYTHON": sys.executable},
                               capture_output=True, text=True, timeout=1200, check=False)
    assert installed.returncode == 0, installed.stderr
    # the bundled scenario runs from the bundle's data folder with the installed gisplan, offline, no ../shared
    data = out / "data"
    ran = subprocess.run([str(venv / "bin" / "gisplan"), "run", "scenarios/zhushan-2025.toml"], cwd=data,
                         env={**offline, "GISPLAN_OFFLINE": "1"}, capture_output=True, text=True, timeout=900,
                         check=False)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr
    indicators = next(data.rglob("indicators.csv"))
    assert indicators.stat().st_size > 0
