"""Batched augmentation pipelines (run after transfer to the device, torchgeo style).

Pipelines are callables on ``{'image': float [B, C, H, W]}`` dicts, like torchgeo's kornia
``AugmentationSequential`` with ``data_keys=None``; they are ``nn.Sequential`` of tensor
modules, so single steps can be inspected or switched off (``aug[0].p = 0``).
"""

from typing import Any

import kornia.augmentation as K
import torch
from torch import Tensor, nn

__all__ = [
    'CLIP_MEAN',
    'CLIP_STD',
    'ImageAugmentation',
    'RandomDihedral',
    'clip_eval_augmentation',
    'clip_mean_std',
    'clip_train_augmentation',
]

#: OpenAI CLIP normalisation in 0..1 units (multiply by 255 for torchgeo's 0..255 images).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class ImageAugmentation(nn.Sequential):
    """Tensor modules applied in turn to ``batch['image']``; other keys pass through."""

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        """Augment the image of a batch dict.

        Args:
            batch: A dict with ``image`` ``[B, C, H, W]``.

        Returns:
            A new dict with the augmented image.
        """
        image = batch['image']
        for module in self:
            image = module(image)
        return {**batch, 'image': image}


class RandomDihedral(nn.Module):
    """Random horizontal flip (p=0.5) and rotation by 0/90/180/270 degrees, per sample.

    kornia's ``RandomRotation90`` resamples through a general affine warp; a quarter turn is an
    exact index permutation, so ``torch.rot90``/``flip`` give the same images exactly and run
    far faster (no interpolation), which matters when augmenting on the CPU. Draws come from
    torch's global generator, like kornia's.

    Args:
        flip_p: Probability of a horizontal flip.
    """

    def __init__(self, flip_p: float = 0.5) -> None:
        super().__init__()
        self.flip_p = flip_p

    def forward(self, image: Tensor) -> Tensor:
        """Flip and turn each image of ``[B, C, H, W]`` (square images when turning).

        Args:
            image: The batch.

        Returns:
            The augmented batch.
        """
        batch = image.shape[0]
        flips = (torch.rand(batch) < self.flip_p).tolist()
        turns = torch.randint(0, 4, (batch,)).tolist()
        out = []
        for sample, flip, turn in zip(image, flips, turns):
            if flip:
                sample = sample.flip(-1)
            out.append(torch.rot90(sample, turn, dims=(-2, -1)) if turn else sample)
        return torch.stack(out)


class _Normalize(nn.Module):
    # kornia's Normalize, fused into one in-place-free affine map (same result, less overhead).
    def __init__(self, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        self.register_buffer('scale', (1 / std).view(1, -1, 1, 1), persistent=False)
        self.register_buffer('shift', (-mean / std).view(1, -1, 1, 1), persistent=False)

    def forward(self, image: Tensor) -> Tensor:
        return torch.addcmul(self.shift.to(image), image, self.scale.to(image))


def clip_train_augmentation(
    image_size: int,
    mean: Tensor,
    std: Tensor,
    crop_scale: tuple[float, float] = (0.9, 1.0),
) -> ImageAugmentation:
    """The paper's training augmentation, batched: random resized crop, flip, 90-degree turns.

    ``crop_scale`` defaults to open_clip's (0.9, 1.0), which RemoteCLIP trained with.

    Args:
        image_size: Output side length.
        mean: Per-channel mean in image units (0..255).
        std: Per-channel standard deviation in image units.
        crop_scale: Area range of the random crop.

    Returns:
        A pipeline for ``{'image': float [B, 3, H, W]}`` dicts.
    """
    return ImageAugmentation(
        K.RandomResizedCrop((image_size, image_size), scale=crop_scale, p=1.0, keepdim=True),
        RandomDihedral(),
        _Normalize(mean, std),
    )


def clip_eval_augmentation(image_size: int, mean: Tensor, std: Tensor) -> ImageAugmentation:
    """Evaluation pipeline: resize to a square (skipped when already that size) + normalise.

    Args:
        image_size: Output side length.
        mean: Per-channel mean in image units (0..255).
        std: Per-channel standard deviation in image units.

    Returns:
        A pipeline for ``{'image': ...}`` dicts.
    """
    return ImageAugmentation(_ResizeIfNeeded(image_size), _Normalize(mean, std))


class _ResizeIfNeeded(nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.resize = K.Resize((size, size), keepdim=True)
        self.size = size

    def forward(self, image: Tensor) -> Tensor:
        if image.shape[-2:] == (self.size, self.size):
            return image
        return self.resize(image)


def clip_mean_std() -> tuple[Tensor, Tensor]:
    """CLIP mean and std in 0..255 image units, as torchgeo datamodules expect."""
    return torch.tensor(CLIP_MEAN) * 255, torch.tensor(CLIP_STD) * 255
