"""Load the model the prediction tools run, once, on the requested device."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ['LoadedModel', 'load_for_prediction', 'resolve_device']

#: ``(model, preprocess, tokenizer)`` as returned by :func:`rs_vlm.models.load_model`.
LoadedModel = tuple[nn.Module, Callable[..., Any], Callable[..., Any]]


def resolve_device(device: str | torch.device) -> torch.device:
    """``'auto'`` -> CUDA when available, else CPU; anything else as given.

    Args:
        device: ``'auto'`` or a torch device string.

    Returns:
        The device.
    """
    if str(device) == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(device)


def load_for_prediction(
    model_name: str,
    checkpoint: str | Path | None = None,
    device: str | torch.device = 'auto',
    *,
    force_quick_gelu: bool = False,
    loaded: LoadedModel | None = None,
) -> LoadedModel:
    """Load ``(model, preprocess, tokenizer)`` in eval mode, or pass ``loaded`` through.

    Args:
        model_name: open_clip model name (``ViT-B-32-quickgelu`` for RemoteCLIP weights).
        checkpoint: Weights in any layout :func:`rs_vlm.models.load_model` reads; random
            weights when None.
        device: ``'auto'``, ``'cpu'``, ``'cuda'``, ``'cuda:1'``...
        force_quick_gelu: Build the model with QuickGELU.
        loaded: An already loaded triple (for repeated calls); returned in eval mode.

    Returns:
        The triple.

    Raises:
        CheckpointError: The checkpoint is missing, unsafe or does not fit the model.
        ValueError: The model name is unknown.
    """
    if loaded is not None:
        loaded[0].eval()
        return loaded
    from rs_vlm.models import load_model

    return load_model(
        model_name, checkpoint, resolve_device(device), force_quick_gelu=force_quick_gelu
    )
