"""Count and log the bad samples that datasets skipped (``on_error='skip'``) during training.

:class:`SkippedInputCounter` totals the skipped images; :class:`EmptyBatchGuard` decides what a
training step does with a batch whose every image was unreadable: skip it (counted), or stop
the run once too many steps had nothing to train on.
"""

import logging
from collections.abc import Callable
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

__all__ = ['EmptyBatchGuard', 'SkippedBatchesError', 'SkippedInputCounter']

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


class SkippedBatchesError(RuntimeError):
    """Too many training steps had a batch whose every image was unreadable."""


class EmptyBatchGuard:
    """Skip (and count) the training steps whose batch holds no readable sample.

    With ``on_error='skip'`` a batch can lose every one of its images (see
    :func:`~rs_vlm.datasets.bad_input.is_all_skipped`); the step is then skipped on every rank,
    warned and counted. When more than ``max_skipped_fraction`` of the steps were skipped this
    way (once at least ``min_skipped`` were, and always at the end of training), the corpus is
    broken rather than unlucky and :class:`SkippedBatchesError` stops the run.

    Args:
        max_skipped_fraction: Largest tolerated fraction of skipped steps, in ``[0, 1]``.
        min_skipped: Skips tolerated before the fraction is enforced mid-run.
    """

    def __init__(self, max_skipped_fraction: float = 0.1, min_skipped: int = 3) -> None:
        if not 0 <= max_skipped_fraction <= 1:
            raise ValueError(
                f'max_skipped_fraction must be in [0, 1], got {max_skipped_fraction!r}'
            )
        self.max_skipped_fraction = max_skipped_fraction
        self.min_skipped = min_skipped
        self.num_skipped = 0
        self.num_steps = 0

    def check(
        self,
        has_samples: bool,
        *,
        step: int,
        all_ranks_have_samples: Callable[[bool], bool] | None = None,
    ) -> bool:
        """Whether this training step has samples to train on (on every rank).

        Args:
            has_samples: The local batch holds at least one sample.
            step: The global step, named in the warning.
            all_ranks_have_samples: Reduces the local answer across ranks (Lightning's
                ``strategy.reduce_boolean_decision``), so that every rank skips together and
                none waits in a collective the others never reach; local answer when None.

        Returns:
            True to train on the batch; False to skip the step.

        Raises:
            SkippedBatchesError: Too many steps were skipped (see :meth:`check_fraction`).
        """
        if all_ranks_have_samples is not None:
            has_samples = bool(all_ranks_have_samples(has_samples))
        self.num_steps += 1
        if has_samples:
            return True
        self.num_skipped += 1
        logger.warning(
            'every image of the batch at global step %d was unreadable (named in the warnings '
            'above): skipped the step (%d skipped so far)',
            step,
            self.num_skipped,
        )
        self.check_fraction()
        return False

    def check_fraction(self, *, at_end: bool = False) -> None:
        """Raise when too large a fraction of the steps had no readable sample.

        Args:
            at_end: The run is over: enforce the fraction whatever the number of skips.

        Raises:
            SkippedBatchesError: More than ``max_skipped_fraction`` of the steps were skipped.
        """
        if not self.num_skipped or (not at_end and self.num_skipped < self.min_skipped):
            return
        fraction = self.num_skipped / max(self.num_steps, 1)
        if fraction > self.max_skipped_fraction:
            raise SkippedBatchesError(
                f'{self.num_skipped} of {self.num_steps} training steps ({fraction:.0%}, more '
                f'than the {self.max_skipped_fraction:.0%} that nonfinite_max_skipped_fraction '
                'allows) were skipped because every image of their batch was unreadable: '
                'check the image files named in the warnings'
            )

    def state_dict(self) -> dict[str, int]:
        """The counts (saved in checkpoints, so a resumed run enforces the fraction over all)."""
        return {'skipped': self.num_skipped, 'steps': self.num_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the counts."""
        self.num_skipped = int(state.get('skipped', 0))
        self.num_steps = int(state.get('steps', 0))
