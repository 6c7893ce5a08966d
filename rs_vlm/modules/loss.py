"""Symmetric InfoNCE (CLIP) loss with features gathered across ranks."""

import torch.distributed as dist
from open_clip.loss import ClipLoss
from torch import Tensor

__all__ = ['InfoNCELoss']


class InfoNCELoss(ClipLoss):
    """open_clip's ``ClipLoss`` that reads rank and world size from ``torch.distributed``.

    ``ClipLoss`` fixes rank and world size at construction, but a LightningModule is built
    before the process group exists; this subclass looks them up on every call, so the same
    module works in one process, under DDP and under FSDP. Gathering is open_clip's
    ``gather_features``; with ``gather_with_grad=True`` it uses the differentiable
    ``torch.distributed.nn.all_gather``, so gradients flow to every rank's features.

    With the defaults (``local_loss=True``, ``gather_with_grad=True``) each rank scores its own
    rows against all gathered columns: the logit memory is linear in the global batch, and
    value and gradients (after DDP's gradient averaging) equal the full-batch loss.

    Args:
        local_loss: Score only local rows against gathered columns.
        gather_with_grad: Back-propagate through the gather.
    """

    def __init__(self, local_loss: bool = True, gather_with_grad: bool = True) -> None:
        super().__init__(
            local_loss=local_loss, gather_with_grad=gather_with_grad, cache_labels=True
        )

    def forward(  # type: ignore[override]
        self, image_features: Tensor, text_features: Tensor, logit_scale: Tensor
    ) -> Tensor:
        """Compute the loss.

        Args:
            image_features: L2-normalised image features ``[B, D]`` (local batch).
            text_features: L2-normalised text features ``[B, D]``; row i matches image i.
            logit_scale: The temperature multiplier ``exp(logit_scale)`` (0-d or ``[1]``).

        Returns:
            The mean of the image->text and text->image cross-entropies (0-d).
        """
        if dist.is_available() and dist.is_initialized():
            self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        else:
            self.rank, self.world_size = 0, 1
        return super().forward(image_features, text_features, logit_scale)
