"""Optimiser parameter groups and the warm-up + cosine learning-rate schedule."""

import math
from collections.abc import Iterable

from torch import nn

__all__ = ['WarmupCosineSchedule', 'clean_parameter_name', 'no_weight_decay_names', 'param_groups']

_WRAPPER_PARTS = ('_fsdp_wrapped_module.', '_checkpoint_wrapped_module.', '_orig_mod.')


def clean_parameter_name(name: str) -> str:
    """Strip FSDP / activation-checkpointing / compile wrapper parts from a parameter name."""
    for part in _WRAPPER_PARTS:
        name = name.replace(part, '')
    return name


def no_weight_decay_names(model: nn.Module) -> set[str]:
    """Parameters that get no weight decay: gains, biases, ``logit_scale`` and embeddings.

    The rule is open_clip's (``p.ndim < 2`` or ``bn``/``ln``/``bias``/``logit_scale`` in the
    name) plus every ``*embedding*`` (class, positional and token embeddings), as the paper's
    recipe asks. Call it on the unwrapped model: FSDP flattens shards to 1-D.

    Args:
        model: The open_clip model.

    Returns:
        Cleaned parameter names.
    """
    names = set()
    for name, param in model.named_parameters():
        if (
            param.ndim < 2
            or any(part in name for part in ('bn', 'ln', 'bias', 'logit_scale'))
            or 'embedding' in name
        ):
            names.add(clean_parameter_name(name))
    return names


def param_groups(
    named_parameters: Iterable[tuple[str, nn.Parameter]],
    no_decay: set[str],
    weight_decay: float,
) -> list[dict[str, object]]:
    """Split trainable parameters into a decayed and a non-decayed group.

    Args:
        named_parameters: ``module.named_parameters()`` (wrapped names are cleaned).
        no_decay: Cleaned names that get no weight decay (see :func:`no_weight_decay_names`).
        weight_decay: Decay for the other parameters.

    Returns:
        Two AdamW parameter groups (frozen parameters left out).
    """
    decay, no_decay_params = [], []
    for name, param in named_parameters:
        if not param.requires_grad:
            continue
        key = clean_parameter_name(name)
        if key.startswith('model.'):
            key = key[len('model.') :]
        (no_decay_params if key in no_decay else decay).append(param)
    return [
        {'params': no_decay_params, 'weight_decay': 0.0},
        {'params': decay, 'weight_decay': weight_decay},
    ]


class WarmupCosineSchedule:
    """LR multiplier: linear warm-up, then cosine decay to zero (for ``LambdaLR``).

    Step ``s`` (0-based) gets ``(s + 1) / warmup_steps`` during warm-up, then
    ``0.5 * (1 + cos(pi * (s - warmup_steps) / (total_steps - warmup_steps)))``: the formula of
    open_clip's ``cosine_lr`` (and ITRA's), in closed form. torch's ``SequentialLR`` of
    ``LinearLR`` and ``CosineAnnealingLR`` gives the same curve only up to the recursive
    formula's rounding, so we keep the closed form. A class (not a lambda) so ``LambdaLR``
    state is picklable and resume is exact.

    Args:
        warmup_steps: Steps of linear warm-up.
        total_steps: Total optimiser steps.
    """

    def __init__(self, warmup_steps: int, total_steps: int) -> None:
        self.warmup_steps = max(0, int(warmup_steps))
        self.total_steps = max(1, int(total_steps))

    def __call__(self, step: int) -> float:
        """The multiplier of the base learning rate at optimiser step ``step``."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        decay_steps = self.total_steps - self.warmup_steps
        if decay_steps <= 0:
            return 1.0
        progress = min(1.0, (step - self.warmup_steps) / decay_steps)
        return 0.5 * (1.0 + math.cos(math.pi * progress))
