"""docs/differences.md names everything of original mite 2.11.0's that mite-rs does not have:
each command of its CLI and each module of its packages that cannot be imported here. The
original is found through MITE_ORIGINAL_VENV, as for the interop tests."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = (Path(__file__).parent.parent / "docs" / "differences.md").read_text()
PACKAGES = [
    "mite",
    "mite_amqp",
    "mite_browser",
    "mite_db_datapool",
    "mite_finagle",
    "mite_http",
    "mite_kafka",
    "mite_playwright",
    "mite_selenium",
    "mite_websocket",
]


@pytest.fixture(scope="module")
def original(original_venv):
    return original_venv


def mentioned(name):
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", DOC) is not None


def importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def test_every_module_of_mites_that_is_not_here_is_named(original):
    site = subprocess.run(
        [
            original / "bin" / "python",
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    unnamed = []
    for package in PACKAGES:
        for path in sorted((Path(site) / package).rglob("*.py")):
            parts = list(path.relative_to(site).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if any(part.startswith("_") for part in parts):
                continue
            name = ".".join(parts)
            if importable(name):
                continue
            # A missing package is named once, for all its modules.
            prefixes = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
            if not any(mentioned(p) for p in prefixes if not importable(p) or p == name):
                unnamed.append(name)
    assert unnamed == [], f"not in mite-rs and not in docs/differences.md: {unnamed}"


def test_every_command_of_mites_that_is_not_here_is_named(original):
    def commands(help_text):
        return {
            line.split()[2]
            for line in help_text.splitlines()
            if line.strip().startswith("mite [options]")
        }

    theirs = commands(
        subprocess.run([original / "bin" / "mite", "--help"], capture_output=True, text=True).stdout
    )
    ours = subprocess.run(
        [sys.executable, "-m", "mite", "--help"], capture_output=True, text=True
    ).stdout
    assert {"scenario", "controller", "har"} <= theirs
    missing = {c for c in theirs if not re.search(rf"^\s+{re.escape(c)}\s", ours, re.M)}
    assert "har" in missing and "scenario" not in missing
    unnamed = sorted(c for c in missing if not mentioned(f"`{c}`") and f"mite {c}" not in DOC)
    assert unnamed == [], f"commands not in mite-rs and not in docs/differences.md: {unnamed}"
