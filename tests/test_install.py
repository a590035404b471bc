"""Reproducible installs: the locks pin what pyproject.toml asks for, `./install.sh --lock`
writes exactly the committed locks, and a wheelhouse installs a working station on a box with
no network (`./install.sh --wheelhouse DIR`, then `./install.sh --offline DIR`)."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from sync.version import PROTOCOL_VERSION

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = ROOT / "deploy/requirements.lock"
DEV_LOCK = ROOT / "deploy/requirements-dev.lock"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
# The machines the project supports (README: on ARM boards), as markers see them.
MACHINES = ("x86_64", "aarch64", "armv7l")
OTHER_MACHINE = {"x86_64": "aarch64", "aarch64": "x86_64"}


def _pins(lock: Path) -> dict[str, tuple[Requirement, set[str]]]:
    """Each pin of a lock in pip's requirements format: the requirement and its SHA-256s."""
    pins = {}
    for line in lock.read_text().replace("\\\n", " ").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spec, *hashes = line.split("--hash=sha256:")
        requirement = Requirement(spec.strip())
        pins[canonicalize_name(requirement.name)] = (requirement, {h.strip() for h in hashes})
    return pins


def _environment(machine: str) -> dict[str, str]:
    return {"platform_machine": machine, "sys_platform": "linux", "platform_system": "Linux",
            "python_version": "3.11", "python_full_version": "3.11.7",
            "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def _holds(marker: Marker | None, machine: str) -> bool:
    return marker is None or marker.evaluate(_environment(machine))


def _copy_tree(to: Path) -> Path:
    """The checkout as it would be copied to a USB stick: no venv, no caches."""
    shutil.copytree(ROOT, to, ignore=shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", "*.egg-info", "build", ".*_cache", ".hypothesis", "out"))
    return to


def _env(**extra: str) -> dict[str, str]:
    # No PYTHONPATH: the installed commands must run from the venv, not from this tree.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(extra)
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.mark.parametrize(("lock", "groups"), [(RUNTIME_LOCK, ()), (DEV_LOCK, ("dev",))],
                         ids=["runtime", "dev"])
def test_locks_pin_every_dependency_of_pyproject(lock: Path, groups: tuple[str, ...]) -> None:
    pins = _pins(lock)
    wanted = list(PYPROJECT["project"]["dependencies"])
    for group in groups:
        wanted += PYPROJECT["project"]["optional-dependencies"][group]
    for line in wanted:
        dependency = Requirement(line)
        if not any(_holds(dependency.marker, machine) for machine in MACHINES):
            continue
        name = canonicalize_name(dependency.name)
        assert name in pins, f"{lock.name} has no pin for {name}: run ./install.sh --lock"
        pinned = next(iter(pins[name][0].specifier)).version
        assert dependency.specifier.contains(pinned, prereleases=True), (
            f"{lock.name} pins {name}=={pinned}, pyproject.toml asks {dependency}: run ./install.sh --lock")
        assert pins[name][1], f"{name} in {lock.name} has no hash"


def test_dev_lock_holds_the_runtime_pins() -> None:
    runtime, dev = _pins(RUNTIME_LOCK), _pins(DEV_LOCK)
    for name, (requirement, hashes) in runtime.items():
        assert str(dev[name][0].specifier) == str(requirement.specifier), name
        assert dev[name][1] == hashes, name


def test_lock_command_writes_exactly_the_committed_locks(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "deploy").mkdir(parents=True)
    for name in ("install.sh", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    for name in ("lock.sh", "requirements.lock", "requirements-dev.lock"):
        shutil.copy2(ROOT / "deploy" / name, tree / "deploy" / name)
    _run(["./install.sh", "--lock"], tree, _env())
    for name in ("requirements.lock", "requirements-dev.lock"):
        assert (tree / "deploy" / name).read_text() == (ROOT / "deploy" / name).read_text(), (
            f"deploy/{name} is not what ./install.sh --lock writes")


def _network_cut() -> list[str]:
    """`unshare -n` when this user may: the offline install then has no network at all."""
    if not shutil.which("unshare"):
        return []
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return ["unshare", "-n"] if probe.returncode == 0 else []


@pytest.mark.slow
def test_offline_install_from_a_wheelhouse_runs_station_and_county(tmp_path: Path) -> None:
    wheels = tmp_path / "usb" / "wheels"
    build = _copy_tree(tmp_path / "build")
    _run(["./install.sh", "--wheelhouse", str(wheels)], build,
         _env(WHEELHOUSE_ARCHES=platform.machine()))
    assert (wheels / f"township_station-{VERSION}-py3-none-any.whl").is_file()
    assert (wheels / "requirements.lock").read_text() == RUNTIME_LOCK.read_text()

    # Another copy of the checkout, as on the box: pip sees no index, no configuration of this
    # machine's, and (where unshare may) no network.
    box = _copy_tree(tmp_path / "box")
    offline = _env(PIP_CONFIG_FILE=os.devnull)
    for name in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        offline.pop(name, None)
    _run([*_network_cut(), "./install.sh", "--offline", str(wheels)], box, offline)

    venv = box / ".venv"
    county = _run([str(venv / "bin/county"), "--version"], tmp_path, offline)
    assert county == f"county {VERSION} (protocol {PROTOCOL_VERSION})\n"
    where = _run([str(venv / "bin/python"), "-c", "import station; print(station.__file__)"],
                 tmp_path, offline)
    assert where.startswith(str(venv)), f"station imported from {where}, not from the venv"
    station = _run([str(venv / "bin/station"), "--version"], tmp_path, offline)
    assert station == f"station {VERSION} (protocol {PROTOCOL_VERSION})\n"
    # The installed copy has no checkout around it: a store made from it proves the wheel
    # carries what the code reads at run time (schema.sql, the kiosk's stylesheet).
    home = tmp_path / "installed-home"
    made = {**offline, "STATION_PASSPHRASE": "offline install 2026"}
    _run([str(venv / "bin/station"), "--home", str(home), "init", "--township", "440524001",
          "--name", "离线安装站", "--clerk", "张三"], tmp_path, made)
    added = _run([str(venv / "bin/station"), "--home", str(home), "add", "grid", "--json",
                  '{"code": "440524001001", "name": "一网格", "township": "440524001"}'], tmp_path, made)
    assert re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", added), added


def test_the_other_architecture_resolves_from_the_lock(tmp_path: Path) -> None:
    """What `--wheelhouse` downloads for the other machine, resolved without downloading it:
    a wheel for every pin, each one a file whose hash the lock names."""
    other = OTHER_MACHINE.get(platform.machine())
    if other is None:
        pytest.skip(f"no wheels are published for {platform.machine()}")
    first = 5 if other == "x86_64" else 17
    platforms = [f"--platform=manylinux_2_{minor}_{other}" for minor in range(first, 37)]
    report = tmp_path / "report.json"
    _run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
          "--no-deps", "--target", str(tmp_path / "target"), "--only-binary=:all:",
          "--implementation", "cp", "--python-version", "3.11", *platforms,
          f"--platform=manylinux2014_{other}", "--report", str(report), "-r", str(RUNTIME_LOCK)],
         tmp_path, _env())
    chosen = {canonicalize_name(item["metadata"]["name"]): item["download_info"]
              for item in json.loads(report.read_text())["install"]}
    pins = _pins(RUNTIME_LOCK)
    assert set(chosen) == {name for name, (req, _) in pins.items() if _holds(req.marker, other)}
    for name, info in chosen.items():
        filename = info["url"].rsplit("/", 1)[-1]
        assert filename.endswith("-any.whl") or f"_{other}" in filename, filename
        assert info["archive_info"]["hashes"]["sha256"] in pins[name][1], filename
