"""Crash-safe checkpoint files for Lightning: atomic save, code-free load.

Lightning's :class:`~lightning.pytorch.plugins.io.TorchCheckpointIO` serialises the whole
checkpoint into memory and writes it through an fsspec transaction; it does not ``fsync`` and
loads with whatever ``weights_only`` the caller passes. :class:`AtomicCheckpointIO` writes
straight into a temporary file beside the target (no second in-memory copy), syncs it and
renames it over the target (:func:`rs_vlm.atomic.atomic_path`), so a kill during a save leaves
the previous checkpoint intact. Loads always use ``weights_only=True``: a checkpoint holding
pickled code is refused with a :class:`~rs_vlm.errors.CheckpointError` naming the file. A full
disk during a save is reported as ``ENOSPC`` with the checkpoint path, the previous checkpoint
left in place; temporaries of killed runs are removed on the next save (only those of
processes that no longer run, so two runs may share one checkpoint folder).
"""

import errno
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from rs_vlm.atomic import atomic_path, remove_stale_temporaries
from rs_vlm.errors import CheckpointError
from rs_vlm.models.checkpoint import read_checkpoint

__all__ = ['AtomicCheckpointIO', 'remove_stale_temporaries']

logger = logging.getLogger('rs_vlm.reliability')


class AtomicCheckpointIO(TorchCheckpointIO):
    """Save checkpoints atomically and load them without unpickling code.

    Wired by default into ``rs-vlm fit`` (:class:`rs_vlm.lightning_cli.RSVLMLightningCLI`); pass
    ``plugins=[AtomicCheckpointIO()]`` to a ``Trainer`` elsewhere.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        """Write ``checkpoint`` to a temporary file beside ``path``, then rename it onto ``path``.

        Args:
            checkpoint: The checkpoint dict.
            path: The target file (local path).
            storage_options: Not supported (must be None).

        Raises:
            TypeError: If ``storage_options`` is given.
            OSError: The file system refused the write (full disk: ``ENOSPC``, quota, read-only
                folder); the message names the checkpoint, and the previous one is kept.
        """
        if storage_options is not None:
            raise TypeError(f'{type(self).__name__} does not take storage_options')
        remove_stale_temporaries(path)
        try:
            # Through a Python file object, so that a full disk surfaces as an OSError with its
            # errno (torch's own file writer reports only "unexpected pos").
            with atomic_path(path) as tmp, open(tmp, 'wb') as handle:
                torch.save(checkpoint, handle)
        except (OSError, RuntimeError) as error:
            raise _save_error(error, Path(path)) from error

    def load_checkpoint(
        self,
        path: Any,
        map_location: Callable[..., Any] | None = None,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        """Load a checkpoint with ``weights_only=True`` whatever the caller asked.

        Args:
            path: The checkpoint file.
            map_location: Ignored; tensors load on the CPU and Lightning moves them.
            weights_only: Ignored (always True).

        Returns:
            The checkpoint dict.

        Raises:
            CheckpointError: The file is missing, not a torch file, or holds pickled code.
        """
        checkpoint = read_checkpoint(path)
        if not isinstance(checkpoint, dict):
            raise CheckpointError(
                path, f'holds a {type(checkpoint).__name__}, expected a Lightning checkpoint dict'
            )
        return checkpoint


_FULL = {errno.ENOSPC: 'ENOSPC', errno.EDQUOT: 'EDQUOT', errno.EFBIG: 'EFBIG'}


def _os_error(error: BaseException | None) -> OSError | None:
    """The OSError behind ``error``: itself, or one torch's writer wrapped in a RuntimeError."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, OSError) and error.errno is not None:
            return error
        error = error.__cause__ or error.__context__
        seen += 1
    return None


def _save_error(error: BaseException, path: Path) -> BaseException:
    """A clear ``OSError`` naming the checkpoint for a save the file system refused."""
    cause = _os_error(error)
    if cause is None:
        return error
    if cause.errno in _FULL:
        reason = f'{_FULL[cause.errno]}: No space left on device (or quota exceeded)'
    else:
        reason = f'{errno.errorcode.get(cause.errno, cause.errno)}: {cause.strerror}'
    message = (
        f'{reason} while saving the checkpoint; the previous checkpoint under this name is '
        f'unchanged. Free space in {path.parent} or set another dirpath'
    )
    return OSError(cause.errno, message, str(path))
