"""InfoNCELoss in one process: equal to open_clip's ClipLoss and to a direct formula."""

import math

import pytest
import torch
from open_clip.loss import ClipLoss
from torch.nn import functional as F

from rs_vlm.modules import InfoNCELoss


def _features(batch: int = 6, dim: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = F.normalize(torch.randn(batch, dim, generator=generator), dim=-1)
    texts = F.normalize(torch.randn(batch, dim, generator=generator), dim=-1)
    return images.requires_grad_(), texts.requires_grad_()


def _direct_infonce(images: torch.Tensor, texts: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    # -log softmax of the matching pair, averaged over rows and over both directions.
    logits = scale * images @ texts.T
    diag = torch.arange(len(images))
    image_to_text = -(logits.log_softmax(dim=1)[diag, diag]).mean()
    text_to_image = -(logits.log_softmax(dim=0)[diag, diag]).mean()
    return (image_to_text + text_to_image) / 2


@pytest.mark.parametrize('scale_shape', [(), (1,)])
def test_value_and_gradients_equal_clip_loss(scale_shape: tuple[int, ...]) -> None:
    images, texts = _features()
    scale = torch.full(scale_shape, math.log(1 / 0.07)).exp().requires_grad_()
    ours = InfoNCELoss()(images, texts, scale)
    ours_grads = torch.autograd.grad(ours, (images, texts, scale))
    reference = ClipLoss()(images, texts, scale)
    reference_grads = torch.autograd.grad(reference, (images, texts, scale))
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-6)
    for got, expected in zip(ours_grads, reference_grads):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(ours, _direct_infonce(images, texts, scale).reshape(()))


def test_perfect_alignment_gives_small_loss_and_swapped_gives_large() -> None:
    images = torch.eye(4)
    scale = torch.tensor(100.0)
    assert float(InfoNCELoss()(images, images, scale)) < 1e-6
    # Text i matches image i+1: every positive scores 0 against a 100 for a wrong pair.
    shifted = images.roll(1, dims=0)
    assert float(InfoNCELoss()(images, shifted, scale)) == pytest.approx(100.0, abs=1e-3)
