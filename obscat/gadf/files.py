"""Opening data files safely: only regular files, failures named, digests; writing one whole or not at all.

A FIFO would block forever and a device (``/dev/zero``) never ends, so every
file obscat reads is checked first; failures are :class:`~obscat.errors.InputError`
naming the file and what it is instead.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError

__all__ = ["check_regular_file", "file_sha256", "is_regular_file", "open_file", "replacing"]

#: A file name: text or a path object.
FilePath = str | os.PathLike[str]


@contextlib.contextmanager
def open_file(path: FilePath) -> Iterator[BinaryIO]:
    """The file opened for binary reading; failures to open it are InputError.

    Only regular files are opened: a FIFO would block forever and a device
    (``/dev/zero``) never ends.
    """
    check_regular_file(path)
    try:
        stream = open(path, "rb")  # closed by the with below
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a FITS file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read file ({exc.strerror})") from None
    with stream:
        yield stream


_FILE_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))  # fmt: skip


def check_regular_file(path: FilePath) -> None:
    """Raise InputError unless ``path`` is (a symbolic link to) a regular file, naming what it is instead."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(f"{path}: broken symbolic link (to {os.readlink(path)})") from None
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{path}: symbolic link loop") from None
        raise InputError(f"{path}: cannot read file ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a directory, not a FITS file")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
        raise InputError(f"{path}: {kind}, not a regular file: not read")


def is_regular_file(path: str) -> bool:
    """Whether ``path`` is (a symbolic link to) a regular file; never raises, never blocks."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):  # missing, a loop, a name too long, an embedded NUL ...
        return False


def file_sha256(path: FilePath) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open_file(path) as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary file name beside ``path`` to write to: that file replaces ``path`` when the block
    ends, and is removed if the block raises, so that ``path`` is never half-written."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
