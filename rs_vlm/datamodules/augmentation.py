"""Batched kornia augmentation pipelines (run after transfer to the device, torchgeo style)."""

import kornia.augmentation as K
import torch
from torch import Tensor

__all__ = [
    'CLIP_MEAN',
    'CLIP_STD',
    'clip_eval_augmentation',
    'clip_mean_std',
    'clip_train_augmentation',
]

#: OpenAI CLIP normalisation in 0..1 units (multiply by 255 for torchgeo's 0..255 images).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def clip_train_augmentation(
    image_size: int,
    mean: Tensor,
    std: Tensor,
    crop_scale: tuple[float, float] = (0.9, 1.0),
) -> K.AugmentationSequential:
    """The paper's training augmentation, batched: random resized crop, flip, 90-degree turns.

    ``crop_scale`` defaults to open_clip's (0.9, 1.0), which RemoteCLIP trained with.

    Args:
        image_size: Output side length.
        mean: Per-channel mean in image units (0..255).
        std: Per-channel standard deviation in image units.
        crop_scale: Area range of the random crop.

    Returns:
        A kornia pipeline for ``{'image': float [B, 3, H, W]}`` dicts.
    """
    return K.AugmentationSequential(
        K.RandomResizedCrop((image_size, image_size), scale=crop_scale, p=1.0),
        K.RandomHorizontalFlip(p=0.5),
        K.RandomRotation90(times=(0, 3), p=1.0),
        K.Normalize(mean=mean, std=std),
        data_keys=None,
        keepdim=True,
    )


def clip_eval_augmentation(image_size: int, mean: Tensor, std: Tensor) -> K.AugmentationSequential:
    """Evaluation pipeline: resize to a square (a no-op when the dataset already did) + normalise.

    Args:
        image_size: Output side length.
        mean: Per-channel mean in image units (0..255).
        std: Per-channel standard deviation in image units.

    Returns:
        A kornia pipeline for ``{'image': ...}`` dicts.
    """
    return K.AugmentationSequential(
        K.Resize((image_size, image_size)),
        K.Normalize(mean=mean, std=std),
        data_keys=None,
        keepdim=True,
    )


def clip_mean_std() -> tuple[Tensor, Tensor]:
    """CLIP mean and std in 0..255 image units, as torchgeo datamodules expect."""
    return torch.tensor(CLIP_MEAN) * 255, torch.tensor(CLIP_STD) * 255
