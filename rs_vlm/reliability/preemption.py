"""Save a resumable checkpoint when a run is pre-empted (SIGTERM).

Lightning turns SIGTERM into a :class:`~lightning.pytorch.utilities.exceptions.SIGTERMException`
raised between batches (after the step in flight has finished) and then exits with code 0, as
if training had completed. :class:`PreemptionCheckpoint` writes the ``last`` checkpoint of
every :class:`~lightning.pytorch.callbacks.ModelCheckpoint` at that moment (unless one was just
written for this step), and ``rs-vlm fit`` then exits with :data:`SIGTERM_EXIT_CODE`, so that
``rs-vlm fit ... && rs-vlm export ...`` does not export a partial model and a scheduler can
restart the job with ``--ckpt_path last``.
"""

import logging
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

__all__ = ['SIGTERM_EXIT_CODE', 'PreemptionCheckpoint']

logger = logging.getLogger('rs_vlm.reliability')

#: The shell's code for a process ended by SIGTERM (128 + 15).
SIGTERM_EXIT_CODE = 143


class PreemptionCheckpoint(Callback):
    """On SIGTERM during ``fit``, write each ModelCheckpoint's ``last`` checkpoint.

    Callbacks without ``save_last`` get a ``preempted.ckpt`` in their folder instead. The
    paths written are kept in :attr:`saved`.
    """

    def __init__(self) -> None:
        self.saved: list[Path] = []

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, exception: BaseException
    ) -> None:
        """Write the checkpoints when ``exception`` is Lightning's SIGTERM exception."""
        if not isinstance(exception, SIGTERMException) or trainer.state.fn != TrainerFn.FITTING:
            return
        for callback in trainer.checkpoint_callbacks:
            if not isinstance(callback, ModelCheckpoint) or callback.dirpath is None:
                continue
            if callback.save_last:
                if (
                    callback._last_global_step_saved != trainer.global_step
                    or not Path(callback.last_model_path or '').is_file()
                ):
                    callback._save_last_checkpoint(trainer, callback._monitor_candidates(trainer))
                path = Path(callback.last_model_path)
            else:
                path = Path(callback.dirpath) / f'preempted{callback.FILE_EXTENSION}'
                trainer.save_checkpoint(path)
            self.saved.append(path)
            logger.warning(
                'SIGTERM at global step %d: saved %s; resume with --ckpt_path %s',
                trainer.global_step,
                path,
                'last' if callback.save_last else path,
            )

    def state_dict(self) -> dict[str, Any]:
        """Nothing to keep across runs."""
        return {}
