"""open_clip model factory, released-weights registry, checkpoint I/O, export and FSDP set-up.

The FSDP strategy (:mod:`rs_vlm.models.fsdp`) imports Lightning, so it is loaded on first use:
inference and evaluation (``load_model``) never import Lightning.

Importing this package registers the package's small model configs (``rs-vit-tiny``,
``rs-rn-tiny``: 32 px, a few M parameters, for tests and smoke runs) with open_clip.
"""

from importlib import import_module
from typing import Any

import open_clip

from rs_vlm.models.checkpoint import (
    CheckpointLayout,
    check_finite_weights,
    convert_state_dict,
    guess_architecture,
    load_state_dict_into,
    load_weights,
    read_checkpoint,
    read_state_dict,
)
from rs_vlm.models.factory import (
    MODEL_CONFIG_DIR,
    create_clip,
    evaluation_transform,
    get_tokenizer,
    load_model,
    register_model_config,
)
from rs_vlm.models.hub import WeightsUnavailableError
from rs_vlm.models.registry import RELEASED_WEIGHTS, ReleasedWeights, get_released_weights

__all__ = [
    'CLIP_BLOCK_TYPES',
    'MODEL_CONFIG_DIR',
    'RELEASED_WEIGHTS',
    'CLIPFSDPStrategy',
    'CheckpointLayout',
    'ReleasedWeights',
    'WeightsUnavailableError',
    'check_finite_weights',
    'convert_state_dict',
    'create_clip',
    'evaluation_transform',
    'get_released_weights',
    'get_tokenizer',
    'guess_architecture',
    'load_model',
    'load_state_dict_into',
    'load_weights',
    'read_checkpoint',
    'read_state_dict',
    'register_model_config',
]

if open_clip.get_model_config('rs-vit-tiny') is None:
    open_clip.add_model_config(MODEL_CONFIG_DIR)


def __getattr__(name: str) -> Any:
    """Import the Lightning-based FSDP names on first access (PEP 562)."""
    if name in ('CLIP_BLOCK_TYPES', 'CLIPFSDPStrategy'):
        return getattr(import_module('rs_vlm.models.fsdp'), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
