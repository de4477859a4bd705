"""PNG of the snapshot page through headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from observability import tmpdirs

__all__ = ["ChromiumMissing", "find_chromium", "screenshot"]

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class ChromiumMissing(RuntimeError):
    pass


def find_chromium() -> str:
    for name in _NAMES:
        if path := shutil.which(name):
            return path
    raise ChromiumMissing(
        "no Chromium found for --png: install it (Debian: apt-get install chromium) "
        "or leave out --png"
    )


def screenshot(
    html_path: Path, png_path: Path, width: int, height: int, timeout: float = 60
) -> None:
    exe = find_chromium()
    with tmpdirs.temporary_directory(prefix="obsctl-chromium-") as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={png_path}",
            html_path.resolve().as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not png_path.is_file():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        raise RuntimeError(f"chromium screenshot failed (rc={proc.returncode}): {last}")
