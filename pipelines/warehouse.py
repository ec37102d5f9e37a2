"""Build a warehouse in a new file and swap it in only when the whole run succeeded.

Readers (the dashboard) open the current file read-only; a build never writes to it. os.replace is atomic on
one filesystem, so a reader sees either the old or the new warehouse, never a half-built one, and a crash at any
point leaves the previous file untouched.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb


def configure_session(con: duckdb.DuckDBPyConnection, memory_limit: str) -> None:
    """Settings of every connection a build writes with: UTC timestamps and DuckDB's memory limit (beyond it,
    large joins and sorts spill to disk; dbt gets the same limit through profiles.yml)."""
    con.execute("set TimeZone = 'UTC'")
    con.execute("set memory_limit = ?", [memory_limit])


def staging_path(target: Path) -> Path:
    """A new name for every build, ending in the builder's pid (stale files of dead builders are removed).

    Unique per build, not only per process: DuckDB caches one database instance per path in a process, and a
    library may keep the previous build's staging instance open; after the swap that instance is the live
    warehouse, so reusing the name would hand the next build the live file.
    """
    return target.with_name(f".{target.name}.building-{uuid.uuid4().hex[:12]}-{os.getpid()}")


def remove_quietly(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


@contextlib.contextmanager
def building(target: Path) -> Iterator[Path]:
    """Yield a fresh path to build into; on success it replaces `target`, on any failure it is deleted."""
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.building-*"):
        pid = stale.name.rsplit("-", 1)[-1].removesuffix(".wal")
        if pid.isdigit() and not _alive(int(pid)):
            remove_quietly(stale)  # left behind by a killed build
    tmp = staging_path(target)
    remove_quietly(tmp)
    try:
        yield tmp
        _checkpoint(tmp)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        remove_quietly(tmp)


def _checkpoint(path: Path) -> None:
    """Fold any write-ahead log into the file so the swapped file stands alone."""
    con = duckdb.connect(str(path))
    con.execute("checkpoint")
    con.close()
    remove_quietly(path.with_name(path.name + ".wal"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def connect_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse file as it is now.

    duckdb.connect(path) would return the database instance this process already has open for that path, i.e.
    the warehouse as it was before the last swap, for as long as any old connection lives. Attaching the file to
    a fresh in-memory database always opens the current file; the catalog keeps the file's name, as with connect.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: warehouse not found; run dunning build first")
    con = duckdb.connect()
    name = path.stem.replace('"', '""')
    con.execute(f"attach '{str(path).replace(chr(39), chr(39) * 2)}' as \"{name}\" (read_only)")
    con.execute(f'use "{name}"')
    return con
