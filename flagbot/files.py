"""Files flagbot writes hold abusive text and personal information: owner-only, never clobbered."""

from __future__ import annotations

import os
from pathlib import Path


def private_file(path: str | os.PathLike[str], exclusive: bool = False) -> int:
    """A file descriptor for writing `path`, readable by its owner only (0600). `exclusive`:
    fail with FileExistsError rather than overwrite an existing file."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
    return fd


def private_dir(path: str | os.PathLike[str]) -> Path:
    """The directory, made owner-only (0700) if flagbot creates it."""
    directory = Path(path)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


def new_private_file(directory: Path, stem: str, suffix: str) -> tuple[Path, int]:
    """A file in `directory` named after `stem` that did not exist before (stem-2, stem-3, …)."""
    for n in range(1, 10_000):
        path = directory / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        try:
            return path, private_file(path, exclusive=True)
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory}: too many files named {stem}")
