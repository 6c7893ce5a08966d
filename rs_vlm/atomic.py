"""Atomic file writes: write to a temporary file beside the target, then rename.

A crash or kill mid-write leaves the previous file intact and no half-written file under the
final name (``os.replace`` is atomic on POSIX within one file system).

Temporary names carry the writer's host and process id (``.<name>.<host>-<pid>.<random>.tmp``),
so several processes can write into one folder (two runs sharing a checkpoint folder) without
touching each other's temporaries, and :func:`remove_stale_temporaries` deletes only those of
processes that no longer run.
"""

import contextlib
import errno
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    'atomic_folder',
    'atomic_path',
    'atomic_write',
    'glob_escape',
    'is_stale_temporary',
    'owner_tag',
    'remove_stale_temporaries',
]

logger = logging.getLogger('rs_vlm')

#: Temporaries of other hosts (or of unknown owner) count as stale after this many seconds.
STALE_AFTER_S = 24 * 3600


def owner_tag() -> str:
    """``<host>-<pid>`` of this process, as it appears in temporary names."""
    host = re.sub(r'[^A-Za-z0-9_]', '_', socket.gethostname()) or 'host'
    return f'{host}-{os.getpid()}'


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def is_stale_temporary(path: Path, target_name: str, now: float | None = None) -> bool:
    """Whether a temporary of ``target_name`` was left by a process that no longer runs.

    Args:
        path: A ``.<target_name>.*`` temporary file or folder.
        target_name: The final file or folder name.
        now: The current time (for tests); ``time.time()`` when None.

    Returns:
        True for temporaries of dead processes on this host, and for those of other hosts or
        without an owner tag once unmodified for :data:`STALE_AFTER_S`.
    """
    match = re.match(
        rf'^\.{re.escape(target_name)}\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)\.', path.name
    )
    host = owner_tag().rsplit('-', 1)[0]
    if match and match['host'] == host:
        return not _process_alive(int(match['pid']))
    try:
        age = (time.time() if now is None else now) - path.lstat().st_mtime
    except FileNotFoundError:
        return False
    return age > STALE_AFTER_S


def remove_stale_temporaries(
    target: str | Path, suffixes: tuple[str, ...] = ('.tmp',)
) -> list[Path]:
    """Delete temporaries that interrupted atomic writes of ``target`` left behind.

    Only those of processes that no longer run (:func:`is_stale_temporary`): a concurrent
    writer's temporary is kept.

    Args:
        target: The final file (or folder) name.
        suffixes: Temporary suffixes to look for.

    Returns:
        The removed paths.
    """
    target = Path(target)
    if not target.parent.is_dir():
        return []
    removed = []
    for suffix in suffixes:
        for stale in target.parent.glob(f'.{glob_escape(target.name)}.*{suffix}'):
            if not is_stale_temporary(stale, target.name):
                continue
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
            removed.append(stale)
    if removed:
        logger.warning('removed %d unfinished temporary file(s) of %s', len(removed), target)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped."""
    return re.sub(r'([*?\[])', r'[\1]', name)


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    Use it for writers that want a path (``torch.save``, ``Image.save``). On an exception the
    temporary file is removed and ``target`` is left as it was.

    Args:
        target: The final file name.

    Yields:
        A temporary path in the same folder.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f'.{target.name}.{owner_tag()}.', suffix='.tmp', dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600 files; give the result the permissions a plain open() would.
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        with open(tmp, 'rb+') as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_write(
    target: str | Path, mode: str = 'w', encoding: str | None = 'utf-8', **kwargs: Any
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``target`` for writing; rename it onto ``target`` on success.

    Args:
        target: The final file name.
        mode: ``'w'`` for text or ``'wb'`` for bytes.
        encoding: Text encoding (ignored in binary mode).
        **kwargs: Passed to :func:`open` (e.g. ``newline=''`` for CSV).

    Yields:
        The open file object.
    """
    if 'b' in mode:
        encoding = None
    with atomic_path(target) as tmp, open(tmp, mode, encoding=encoding, **kwargs) as handle:
        yield handle


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # kernel or file system lacks it
        return False
    raise OSError(code, os.strerror(code), str(second))


@contextlib.contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder beside ``target``; on success it replaces ``target`` whole.

    The folder is swapped in with one atomic exchange where the OS supports it (Linux), else
    with two renames; the previous contents are then deleted. A kill while writing leaves
    ``target`` as it was (the staging folder, ``.<name>.<host>-<pid>.<random>.partial``, is
    removed by the next run through :func:`remove_stale_temporaries`).

    Args:
        target: The final folder.

    Yields:
        The staging folder to fill.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        # A run killed between the two renames of the fallback swap: put its old set back.
        pattern = f'.{glob_escape(target.name)}.*.old'
        for previous in sorted(target.parent.glob(pattern), key=lambda p: p.stat().st_mtime):
            if is_stale_temporary(previous, target.name) and not target.exists():
                os.replace(previous, target)
    remove_stale_temporaries(target, suffixes=('.partial', '.old'))
    staging = Path(
        tempfile.mkdtemp(
            prefix=f'.{target.name}.{owner_tag()}.', suffix='.partial', dir=target.parent
        )
    )
    try:
        yield staging
        staging.chmod(0o777 & ~_umask())
        if not target.exists():
            os.replace(staging, target)
            return
        if not _exchange(staging, target):
            old = Path(f'{staging}.old')
            os.replace(target, old)
            try:
                os.replace(staging, target)
            except BaseException:
                os.replace(old, target)
                raise
            staging = old
        shutil.rmtree(staging, ignore_errors=True)  # now the previous contents
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
