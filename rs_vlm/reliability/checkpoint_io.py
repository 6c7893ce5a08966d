"""Crash-safe checkpoint files for Lightning: atomic save, code-free load.

Lightning's :class:`~lightning.pytorch.plugins.io.TorchCheckpointIO` serialises the whole
checkpoint into memory and writes it through an fsspec transaction; it does not ``fsync`` and
loads with whatever ``weights_only`` the caller passes. :class:`AtomicCheckpointIO` writes
straight into a temporary file beside the target (no second in-memory copy), syncs it and
renames it over the target (:func:`rs_vlm.atomic.atomic_path`), so a kill during a save leaves
the previous checkpoint intact. Loads always use ``weights_only=True``: a checkpoint holding
pickled code is refused with a :class:`~rs_vlm.errors.CheckpointError` naming the file.
"""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from rs_vlm.atomic import atomic_path
from rs_vlm.errors import CheckpointError
from rs_vlm.models.checkpoint import read_checkpoint

__all__ = ['AtomicCheckpointIO', 'remove_stale_temporaries']

logger = logging.getLogger('rs_vlm.reliability')


def remove_stale_temporaries(target: str | Path) -> list[Path]:
    """Delete temporary files that an interrupted atomic write of ``target`` left behind.

    :func:`rs_vlm.atomic.atomic_path` names them ``.<name>.<random>.tmp`` beside the target; a
    process killed mid-write cannot remove its own.

    Args:
        target: The final file name.

    Returns:
        The removed files.
    """
    target = Path(target)
    if not target.parent.is_dir():
        return []
    removed = []
    for stale in target.parent.glob(f'.{target.name}.*.tmp'):
        stale.unlink(missing_ok=True)
        removed.append(stale)
    if removed:
        logger.warning('removed %d unfinished temporary file(s) of %s', len(removed), target)
    return removed


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
        """
        if storage_options is not None:
            raise TypeError(f'{type(self).__name__} does not take storage_options')
        remove_stale_temporaries(path)
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

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
