"""The locked environment: what `make upgrade` reports, and that the suite runs on the lock."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import tomllib

from aggregator_assets_tests.docs_commands import ROOT

LOCK = """version = 1
[[package]]
name = "duckdb"
version = "{duckdb}"
[[package]]
name = "pandas"
version = "2.3.3"
"""


def test_lock_diff_names_each_changed_version(tmp_path):
    before, after = tmp_path / "before.lock", tmp_path / "after.lock"
    before.write_text(LOCK.format(duckdb="1.5.6"))
    after.write_text(LOCK.format(duckdb="2.0.1"))
    argv = [sys.executable, str(ROOT / "scripts" / "lock_diff.py")]
    changed = subprocess.run([*argv, str(before), str(after)], capture_output=True, text=True)
    assert changed.stdout.splitlines() == ["uv.lock: duckdb 1.5.6 -> 2.0.1"]
    same = subprocess.run([*argv, str(after), str(after)], capture_output=True, text=True)
    assert same.stdout.strip() == "uv.lock: no version changed"


def test_installed_versions_are_the_locked_ones():
    """`make test` runs on exactly the lock (`uv sync --frozen`), not on what resolved today."""
    with open(ROOT / "uv.lock", "rb") as f:
        locked = {}
        for package in tomllib.load(f)["package"]:
            locked.setdefault(package["name"], set()).add(package.get("version"))
    for name in ("duckdb", "pandas", "pyarrow", "dagster", "kafka-python"):
        assert version(name) in locked[name], f"{name} {version(name)} is not in uv.lock"
