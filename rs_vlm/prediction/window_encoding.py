"""Turn batches of raster windows into CLIP image features, the way open_clip's eval transform does.

open_clip's ``preprocess`` works on one PIL image at a time; for the thousands of windows of a
scene we apply the same steps to a batch tensor on the model's device: scale 0..255 to 0..1,
resize to the model's input size (bicubic with antialiasing, as open_clip's ``Resize``), and
normalise with the model's mean and std (``model.visual.preprocess_cfg``).
"""

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['encode_windows', 'window_preprocess_config']


def window_preprocess_config(model: nn.Module) -> dict[str, Any]:
    """Input size, mean, std and interpolation of an open_clip model.

    Args:
        model: An open_clip CLIP model.

    Returns:
        ``{'size': (h, w), 'mean': (...), 'std': (...), 'interpolation': str}``.
    """
    config = dict(getattr(model.visual, 'preprocess_cfg', {}) or {})
    size = config.get('size') or getattr(model.visual, 'image_size', 224)
    if isinstance(size, int):
        size = (size, size)
    return {
        'size': tuple(size),
        'mean': tuple(config.get('mean', (0.48145466, 0.4578275, 0.40821073))),
        'std': tuple(config.get('std', (0.26862954, 0.26130258, 0.27577711))),
        'interpolation': config.get('interpolation', 'bicubic'),
    }


def encode_windows(
    model: nn.Module, windows: Tensor, config: dict[str, Any] | None = None
) -> Tensor:
    """L2-normalised image features of a batch of windows.

    Args:
        model: An open_clip model in eval mode.
        windows: ``[B, 3, h, w]`` float in 0..255 (any device).
        config: :func:`window_preprocess_config` of the model (computed when None).

    Returns:
        ``[B, D]`` float32 features on the model's device.
    """
    config = config or window_preprocess_config(model)
    parameter = next(model.parameters())
    pixels = windows.to(parameter.device, torch.float32) / 255.0
    if tuple(pixels.shape[-2:]) != config['size']:
        mode = 'bicubic' if config['interpolation'] == 'bicubic' else 'bilinear'
        pixels = F.interpolate(pixels, size=config['size'], mode=mode, antialias=True)
        pixels = pixels.clamp(0, 1)
    mean = torch.tensor(config['mean'], device=pixels.device).view(1, -1, 1, 1)
    std = torch.tensor(config['std'], device=pixels.device).view(1, -1, 1, 1)
    pixels = ((pixels - mean) / std).to(parameter.dtype)
    with torch.no_grad():
        return F.normalize(model.encode_image(pixels).float(), dim=-1)
