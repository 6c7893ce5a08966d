"""Atomic file writes: write to a temporary file beside the target, then rename.

A crash or kill mid-write leaves the previous file intact and no half-written file under the
final name (``os.replace`` is atomic on POSIX within one file system).
"""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ['atomic_path', 'atomic_write']


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
    fd, tmp_name = tempfile.mkstemp(prefix=f'.{target.name}.', suffix='.tmp', dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600 files; give the result the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
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
