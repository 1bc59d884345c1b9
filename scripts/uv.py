#!/usr/bin/env python3
"""Run uv with the given arguments, fetching uv first if this machine has none.

Works with nothing but Python 3.11+: no pip, no virtual environment, no system
change, so also on a distribution Python that refuses ``pip install`` (PEP 668).
It uses, in order: ``$GW_UV``, ``uv`` on PATH, ``python3 -m uv``, a copy fetched
earlier into ``.cache/uv/<version>/``, or else fetches the pinned uv wheel from
PyPI, checks its SHA-256 against PyPI's, and unpacks the ``uv`` binary from it.
uv then creates the project's virtual environment from ``uv.lock`` by itself.

    python3 scripts/uv.py run --frozen --no-dev graphwright demo
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

UV_VERSION = "0.13.9"
ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "uv" / UV_VERSION
INDEX = os.environ.get("GW_PYPI_SIMPLE", "https://pypi.org/simple")


def _tags() -> tuple[str, ...]:
    """Endings of the file names of uv wheels that run on this machine."""
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if sys.platform.startswith("linux"):
        return (f"manylinux2014_{arch}.whl", f"musllinux_1_1_{arch}.whl", f"_{arch}.whl")
    if sys.platform == "darwin":
        return ("arm64.whl",) if arch == "aarch64" else ("x86_64.whl",)
    if sys.platform == "win32":
        return ("win_arm64.whl",) if arch == "aarch64" else ("win_amd64.whl",)
    return ()


def _fetch() -> Path:
    """Download, verify and unpack the pinned uv wheel; return the binary's path."""
    binary = CACHE / ("uv.exe" if sys.platform == "win32" else "uv")
    print(f"fetching uv {UV_VERSION} from PyPI (once, into {CACHE})...", file=sys.stderr)
    request = urllib.request.Request(
        f"{INDEX}/uv/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        files = json.load(answer)["files"]
    wheels = [f for f in files if f["filename"].startswith(f"uv-{UV_VERSION}-")]
    wheel = next(
        (f for tag in _tags() for f in wheels if f["filename"].endswith(tag)), None
    )
    if wheel is None:
        raise SystemExit(f"no uv {UV_VERSION} wheel for this machine; install uv yourself")
    with urllib.request.urlopen(wheel["url"], timeout=300) as answer:
        data = answer.read()
    if hashlib.sha256(data).hexdigest() != wheel["hashes"]["sha256"]:
        raise SystemExit(f"{wheel['filename']}: SHA-256 differs from PyPI's, not used")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        member = next(
            n for n in archive.namelist() if n.endswith(("/scripts/uv", "/scripts/uv.exe"))
        )
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = binary.with_suffix(".partial")
        partial.write_bytes(archive.read(member))
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    partial.replace(binary)
    return binary


def uv_command() -> list[str]:
    """How to call uv here (fetching it if nothing else is available)."""
    if os.environ.get("GW_UV"):
        return [os.environ["GW_UV"]]
    found = shutil.which("uv")
    if found:
        return [found]
    spec = importlib.util.find_spec("uv")  # the uv package, not this script (uv.py)
    if spec is not None and spec.submodule_search_locations:
        return [sys.executable, "-m", "uv"]
    cached = CACHE / ("uv.exe" if sys.platform == "win32" else "uv")
    return [str(cached if cached.exists() else _fetch())]


def main() -> int:
    """Run uv with this script's arguments from the project root; return its exit code."""
    command = [*uv_command(), *sys.argv[1:]]
    if sys.platform == "win32":
        return subprocess.call(command, cwd=ROOT)
    os.chdir(ROOT)
    os.execv(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
