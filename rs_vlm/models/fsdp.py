"""FSDP for open_clip models: wrap policy and a Lightning strategy that also runs on CPU.

Lightning's ``FSDPStrategy`` (up to 2.6.6) passes ``device_id=root_device.index``, which is None
on CPU, and torch's FSDP then refuses to start ("FSDP needs a non-CPU accelerator device").
:class:`CLIPFSDPStrategy` passes ``torch.device('cpu')`` instead, so FSDP runs over gloo on CPU
for tests, and otherwise behaves exactly like ``FSDPStrategy``. It also defaults the wrap and
activation-checkpointing policies to open_clip's transformer blocks and ResNet bottlenecks.

Lightning's ``FSDPStrategy.load_checkpoint`` reads a single-file checkpoint with its own lazy
unpickler, which bypasses the ``CheckpointIO`` plugin and executes any pickled code in the file;
:class:`CLIPFSDPStrategy` first checks such a file with ``weights_only=True`` (memory-mapped,
so the check reads no tensor data) and refuses it with a ``CheckpointError``.
"""

import pickle
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.strategies import FSDPStrategy
from open_clip.modified_resnet import Bottleneck
from open_clip.transformer import ResidualAttentionBlock
from torch import nn

from rs_vlm.errors import CheckpointError

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

    def load_checkpoint(self, checkpoint_path: Any, weights_only: bool | None = None) -> Any:
        """Refuse a single-file checkpoint holding pickled code, then load it as Lightning does.

        Args:
            checkpoint_path: A checkpoint file or a sharded checkpoint folder.
            weights_only: Passed on to Lightning.

        Returns:
            What ``FSDPStrategy.load_checkpoint`` returns.

        Raises:
            CheckpointError: The file holds Python objects other than tensors and containers.
        """
        path = Path(checkpoint_path)
        if path.is_file():
            try:
                torch.load(path, map_location='cpu', weights_only=True, mmap=True)
            except pickle.UnpicklingError as error:
                first_line = (str(error).strip() or repr(error)).splitlines()[0]
                raise CheckpointError(
                    path, f'refused to unpickle: the file holds pickled code ({first_line})'
                ) from error
        return super().load_checkpoint(checkpoint_path, weights_only=weights_only)

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
