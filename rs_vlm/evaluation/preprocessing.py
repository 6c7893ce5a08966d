"""The one evaluation preprocessing: a sample's image through open_clip's evaluation transform.

Datasets yield images as float (or uint8) ``[3, H, W]`` tensors in 0..255. For evaluation each is
turned back into the 8-bit PIL image it was decoded from (lossless for 8-bit files) and given to
the model's own open_clip transform (:func:`rs_vlm.models.evaluation_transform`, the
``preprocess`` that :func:`rs_vlm.models.load_model` returns): PIL bicubic resize of the
shorter side, centre crop, normalisation. That is how RemoteCLIP's and open_clip's evaluation
feed images, so the callbacks, ``rs-vlm evaluate`` and ``rs-vlm predict`` see the same tensors.
"""

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = ['ImageTransform', 'SampleCollator', 'to_pil']

#: PIL image -> normalised ``[3, S, S]`` tensor (open_clip's evaluation transform).
ImageTransform = Callable[[Image.Image], Tensor]


def to_pil(image: Tensor | np.ndarray) -> Image.Image:
    """An 8-bit RGB PIL image from a ``[3, H, W]`` image in 0..255 (rounded and clipped).

    Args:
        image: Float or integer tensor or array, channels first.

    Returns:
        The RGB image.

    Raises:
        ValueError: If the image is not ``[3, H, W]``.
    """
    tensor = torch.as_tensor(image)
    if tensor.ndim != 3 or tensor.shape[0] != 3:
        raise ValueError(f'expected an image of shape [3, H, W], got {list(tensor.shape)}')
    if tensor.is_floating_point():
        tensor = tensor.round()
    array = tensor.clamp(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
    return Image.fromarray(array, mode='RGB')


class SampleCollator:
    """DataLoader ``collate_fn``: preprocess every ``image``; stack ``label`` when all have one.

    A class rather than a closure so DataLoader workers can pickle it.

    Args:
        transform: open_clip's evaluation transform.
    """

    def __init__(self, transform: ImageTransform) -> None:
        self.transform = transform

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Tensor]:
        """``{'image': [B, 3, S, S]}`` plus ``'label': [B]`` when every sample has a label."""
        batch = {'image': torch.stack([self.transform(to_pil(s['image'])) for s in samples])}
        if samples and all('label' in sample for sample in samples):
            batch['label'] = torch.stack([torch.as_tensor(s['label']).long() for s in samples])
        return batch
