"""Count and log the bad samples that datasets skipped (``on_error='skip'``) during training."""

import logging
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

__all__ = ['SkippedInputCounter']

logger = logging.getLogger('rs_vlm.reliability')


class SkippedInputCounter(Callback):
    """Sum the ``skipped`` count that collation puts in batches and log it.

    With ``on_error='skip'`` our datasets return ``None`` for an unreadable image and
    :func:`~rs_vlm.datasets.bad_input.collate_skipping_bad` drops it, recording how many it dropped
    under the batch's ``skipped`` key. Workers' own counters never reach the main process, so this
    callback counts in the main process: it logs ``train/skipped_inputs`` (cumulative, over the
    whole run, resumes included since the count is saved in checkpoints) and warns at the end.
    """

    def __init__(self) -> None:
        self.total = 0

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Add the batch's ``skipped`` count and log the running total."""
        skipped = batch.get('skipped') if isinstance(batch, dict) else None
        if skipped is not None:
            self.total += int(skipped)
        pl_module.log(
            'train/skipped_inputs',
            float(self.total),
            on_step=True,
            on_epoch=False,
            sync_dist=True,
            reduce_fx='sum',
        )

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Warn once with the total when any input was skipped."""
        if self.total and trainer.is_global_zero:
            logger.warning('%d unreadable training input(s) were skipped in this run', self.total)

    def state_dict(self) -> dict[str, Any]:
        """The running total (saved in checkpoints)."""
        return {'total': self.total}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the running total."""
        self.total = int(state_dict.get('total', 0))
