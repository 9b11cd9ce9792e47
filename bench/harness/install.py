"""Idempotent setup: Debian packages, virtualenvs, a fingerprint of the mite-rs source."""

import contextlib
import hashlib
import os
import shutil
import sys
from pathlib import Path

from .process import BenchError, clean_env, log, run

_apt_updated = False


def apt_install(commands):
    """`commands`: command -> Debian package; installs the packages of the missing commands."""
    global _apt_updated
    missing = sorted(
        {
            pkg
            for cmd, pkg in commands.items()
            if not (shutil.which(cmd) or Path("/usr/sbin", cmd).exists())
        }
    )
    if not missing:
        return
    if not shutil.which("apt-get"):
        raise BenchError(f"missing {', '.join(missing)} and there is no apt-get to install them")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    log(f"apt-get install {' '.join(missing)}")
    if not _apt_updated:
        run([*sudo, "apt-get", "update", "-q"])
        _apt_updated = True
    run(
        [*sudo, "apt-get", "install", "-y", "-q", *missing],
        env=clean_env(DEBIAN_FRONTEND="noninteractive"),
    )


def make_venv(venv):
    if not (venv / "bin" / "python").exists():
        run([sys.executable, "-m", "venv", venv])
        pip(venv, "--upgrade", "pip")


def pip(venv, *args, env=None):
    log(f"pip install {' '.join(str(a) for a in args)}")
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", *args], env=env)


def installed_version(python, package):
    if not Path(python).exists():
        return None
    out = run(
        [python, "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        check=False,
    )
    return out.stdout.strip() if out.returncode == 0 else None


def source_fingerprint(source):
    """First line `commit abc123 [+ local changes]`, then a hash of the local changes (the
    diff and the untracked files), leaving out bench/, which is not part of the package."""
    head = run(["git", "-C", source, "rev-parse", "--short=12", "HEAD"], check=False)
    if head.returncode != 0:
        return f"not a git checkout ({source})\n"
    outside_bench = ["--", ".", ":(exclude)bench"]
    diff = run(["git", "-C", source, "diff", "HEAD", *outside_bench]).stdout
    untracked = run(
        ["git", "-C", source, "ls-files", "--others", "--exclude-standard", *outside_bench]
    ).stdout.split()
    digest = hashlib.sha256(diff.encode())
    for name in untracked:
        with contextlib.suppress(OSError):
            digest.update(name.encode() + b"\0" + (Path(source) / name).read_bytes())
    dirty = " + local changes" if diff or untracked else ""
    return f"commit {head.stdout.strip()}{dirty}\n{digest.hexdigest()}\n"


def sync_tree(src, dst):
    """Copy src over dst, rewriting only changed files so cargo's incremental state stays."""
    for path in src.rglob("*"):
        if path.is_dir() or "target" in path.relative_to(src).parts:
            continue
        out = dst / path.relative_to(src)
        if not out.exists() or out.read_bytes() != path.read_bytes():
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)
