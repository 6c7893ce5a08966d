"""Image size and context length of an open_clip model, from its config.

A datamodule's ``image_size`` and ``context_length`` left as None follow the model it feeds, so
changing ``model_name`` alone is enough (a 224 px batch into a 32 px ViT fails deep in the
model with a shape error). Configs show the resolved values through the ``open_clip``
interpolation resolver: ``image_size: ${open_clip:image_size,${model.init_args.model_name}}``.
"""

import importlib
from typing import Any

import open_clip

__all__ = ['model_input_size', 'register_open_clip_resolver', 'resolve_open_clip_value']

#: Used for names open_clip has no config for (e.g. ``hf-hub:`` models): CLIP's own.
_FALLBACK = {'image_size': 224, 'context_length': 77}


def _config(model_name: str) -> dict[str, Any] | None:
    if model_name not in open_clip.list_models():
        importlib.import_module('rs_vlm.models')  # registers the package's rs-* configs
    from rs_vlm.models.registry import architecture_of  # released weights -> architecture

    return open_clip.get_model_config(architecture_of(model_name))


def model_input_size(model_name: str) -> tuple[int, int]:
    """``(image_size, context_length)`` of an open_clip model config.

    Args:
        model_name: An open_clip model name (``ViT-B-32``, ``rs-vit-tiny``).

    Returns:
        The square image side the vision tower takes and the text tower's context length;
        CLIP's 224 and 77 for names without a config.
    """
    config = _config(model_name) or {}
    size = config.get('vision_cfg', {}).get('image_size', _FALLBACK['image_size'])
    if isinstance(size, list | tuple):
        size = size[0]
    context = config.get('text_cfg', {}).get('context_length', _FALLBACK['context_length'])
    return int(size), int(context)


def resolve_open_clip_value(key: str, model_name: str) -> int:
    """``image_size`` or ``context_length`` of ``model_name`` (the interpolation resolver).

    Raises:
        ValueError: For another key.
    """
    image_size, context_length = model_input_size(model_name)
    if key == 'image_size':
        return image_size
    if key == 'context_length':
        return context_length
    raise ValueError(
        f"open_clip resolver key must be 'image_size' or 'context_length', got {key!r}"
    )


def register_open_clip_resolver() -> None:
    """Register ``${open_clip:<key>,<model name>}`` with OmegaConf (once)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver('open_clip'):
        OmegaConf.register_new_resolver('open_clip', resolve_open_clip_value)
