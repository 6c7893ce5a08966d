"""Detect a NaN/inf training loss: skip the optimiser step (counted) or stop naming the files.

A corrupt sample, an overflow or a too-high learning rate shows up as a non-finite loss; one such
step poisons the weights and the optimiser moments for good. :class:`NonFiniteLossGuard`
decides per batch, the same way on every rank, and either raises :class:`NonFiniteLossError`
with the batch's source files (the ``path`` list our caption datasets put in each batch) or
counts the step as skipped, so that the module returns ``None`` and Lightning performs no
backward pass and no parameter update for it.
"""

import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from torch import Tensor

__all__ = ['NonFiniteLossError', 'NonFiniteLossGuard', 'NonFinitePolicy', 'batch_source_files']

NonFinitePolicy = Literal['raise', 'skip']

logger = logging.getLogger('rs_vlm.reliability')


class NonFiniteLossError(RuntimeError):
    """The training loss was NaN or infinite and the policy is ``'raise'``."""


def batch_source_files(batch: Any, limit: int = 20) -> list[str]:
    """The source files a batch came from (its ``path`` list), at most ``limit`` of them.

    Args:
        batch: A batch dict.
        limit: How many names to return.

    Returns:
        The file names; empty when the batch does not carry them.
    """
    paths = batch.get('path') if isinstance(batch, dict) else None
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, Sequence):
        return []
    return [str(path) for path in paths[:limit]]


class NonFiniteLossGuard:
    """Per-batch check of the training loss with a ``'raise'`` or ``'skip'`` policy.

    Skipping is for the odd corrupt batch. When more than ``max_skipped_fraction`` of the
    steps checked so far were skipped (once at least ``min_skipped`` were), the run is
    diverging or its data is broken, and going on would end in an exit code 0 for a model
    that barely trained: the guard raises :class:`NonFiniteLossError` instead.

    Args:
        policy: ``'raise'`` stops training with :class:`NonFiniteLossError`; ``'skip'`` skips
            the step, warns and counts it.
        max_skipped_fraction: Largest tolerated fraction of skipped steps, in ``[0, 1]``.
        min_skipped: Skips tolerated before the fraction is enforced (so that one bad batch
            among the first few steps does not stop a run).
    """

    def __init__(
        self,
        policy: NonFinitePolicy = 'raise',
        max_skipped_fraction: float = 0.1,
        min_skipped: int = 3,
    ) -> None:
        if policy not in ('raise', 'skip'):
            raise ValueError(f"nonfinite_loss must be 'raise' or 'skip', got {policy!r}")
        if not 0 <= max_skipped_fraction <= 1:
            raise ValueError(
                f'max_skipped_fraction must be in [0, 1], got {max_skipped_fraction!r}'
            )
        if min_skipped < 1:
            raise ValueError(f'min_skipped must be at least 1, got {min_skipped!r}')
        self.policy = policy
        self.max_skipped_fraction = max_skipped_fraction
        self.min_skipped = min_skipped
        self.num_skipped = 0
        self.num_checked = 0

    def check_fraction(self, *, at_end: bool = False) -> None:
        """Raise when too large a fraction of the checked steps was skipped.

        Args:
            at_end: The run is over: enforce the fraction whatever the number of skips.

        Raises:
            NonFiniteLossError: More than ``max_skipped_fraction`` of the steps were skipped.
        """
        if not self.num_skipped or (not at_end and self.num_skipped < self.min_skipped):
            return
        fraction = self.num_skipped / max(self.num_checked, 1)
        if fraction > self.max_skipped_fraction:
            raise NonFiniteLossError(
                f'non-finite training loss in {self.num_skipped} of {self.num_checked} steps '
                f'({fraction:.0%}, more than the {self.max_skipped_fraction:.0%} that '
                'nonfinite_max_skipped_fraction allows): the run is diverging or its data is '
                'broken. Lower the learning rate or check the files named in the warnings'
            )

    def check(
        self,
        loss: Tensor,
        batch: Any,
        *,
        step: int,
        all_ranks_finite: Callable[[bool], bool] | None = None,
    ) -> bool:
        """Whether to go on with this step.

        Args:
            loss: The training loss.
            batch: The batch (its ``path`` list is named in the error and warning).
            step: The global step, named in messages.
            all_ranks_finite: Reduces the local decision across ranks (e.g. Lightning's
                ``strategy.reduce_boolean_decision``), so every rank skips together; local
                decision when None.

        Returns:
            True when the loss is finite (on every rank); False when the step must be skipped.

        Raises:
            NonFiniteLossError: The loss is not finite and the policy is ``'raise'``, or too
                many steps were skipped (see :meth:`check_fraction`).
        """
        finite = bool(torch.isfinite(loss.detach()).all())
        if all_ranks_finite is not None:
            finite = bool(all_ranks_finite(finite))
        self.num_checked += 1
        if finite:
            return True
        files = batch_source_files(batch)
        where = f'source files: {", ".join(files)}' if files else 'the batch has no path list'
        value = loss.detach().float().flatten()[0].item() if loss.numel() else float('nan')
        if self.policy == 'raise':
            raise NonFiniteLossError(
                f'non-finite training loss ({value}) at global step {step}; {where}. Check these '
                'files, lower the learning rate, or set nonfinite_loss: skip to skip such steps'
            )
        self.num_skipped += 1
        logger.warning(
            'non-finite training loss (%s) at global step %d: skipped its optimiser step '
            '(%d skipped so far); %s',
            value,
            step,
            self.num_skipped,
            where,
        )
        self.check_fraction()
        return False
