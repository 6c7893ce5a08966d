"""FSDP for open_clip models: wrap policy and a Lightning strategy that also runs on CPU.

Lightning's ``FSDPStrategy`` (up to 2.6.6) passes ``device_id=root_device.index``, which is None
on CPU, and torch's FSDP then refuses to start ("FSDP needs a non-CPU accelerator device").
:class:`CLIPFSDPStrategy` passes ``torch.device('cpu')`` instead, so FSDP runs over gloo on CPU
for tests, and otherwise behaves exactly like ``FSDPStrategy``. It also defaults the wrap and
activation-checkpointing policies to open_clip's transformer blocks and ResNet bottlenecks.
"""

from typing import Any

import torch
from lightning.pytorch.strategies import FSDPStrategy
from open_clip.modified_resnet import Bottleneck
from open_clip.transformer import ResidualAttentionBlock
from torch import nn

__all__ = ['CLIP_BLOCK_TYPES', 'CLIPFSDPStrategy']

#: The open_clip layers FSDP wraps (and checkpoints): ViT/text blocks and ResNet bottlenecks.
CLIP_BLOCK_TYPES: set[type[nn.Module]] = {ResidualAttentionBlock, Bottleneck}


class CLIPFSDPStrategy(FSDPStrategy):
    """``FSDPStrategy`` with open_clip wrap units that also works with ``accelerator='cpu'``.

    Args:
        activation_checkpointing: Recompute the activations of every wrapped block in the
            backward pass (saves memory, costs one more forward).
        auto_wrap_policy: FSDP wrap policy; defaults to :data:`CLIP_BLOCK_TYPES`.
        **kwargs: Everything else ``FSDPStrategy`` takes (``sharding_strategy``,
            ``state_dict_type``, ``cpu_offload``, ...).
    """

    strategy_name = 'clip_fsdp'

    def __init__(
        self,
        activation_checkpointing: bool = False,
        auto_wrap_policy: Any = None,
        **kwargs: Any,
    ) -> None:
        if auto_wrap_policy is None:
            auto_wrap_policy = set(CLIP_BLOCK_TYPES)
        if activation_checkpointing and 'activation_checkpointing_policy' not in kwargs:
            kwargs['activation_checkpointing_policy'] = set(CLIP_BLOCK_TYPES)
        super().__init__(auto_wrap_policy=auto_wrap_policy, **kwargs)

    def _setup_model(self, model: nn.Module) -> nn.Module:
        """Wrap ``model`` in FSDP, giving FSDP an explicit CPU device when running on CPU."""
        from torch.distributed.fsdp import FullyShardedDataParallel

        already_wrapped = any(isinstance(m, FullyShardedDataParallel) for m in model.modules())
        if self.root_device.type != 'cpu' or already_wrapped:
            return super()._setup_model(model)
        # The parent would pass device_id=None here; wrap ourselves and let it finish the rest
        # (torchmetrics placement, activation checkpointing) on the wrapped module.
        wrapped = FullyShardedDataParallel(
            module=model,
            cpu_offload=self.cpu_offload,
            mixed_precision=self.mixed_precision_config,
            sharding_strategy=self.sharding_strategy,
            device_id=torch.device('cpu'),
            **self.kwargs,
        )
        policy = self.kwargs.pop('auto_wrap_policy', None)
        try:
            return super()._setup_model(wrapped)
        finally:
            if policy is not None:
                self.kwargs['auto_wrap_policy'] = policy
