"""open_clip model factory, checkpoint I/O, export and FSDP set-up.

Importing this package registers the package's small model configs (``rs-vit-tiny``,
``rs-rn-tiny``: 32 px, a few M parameters, for tests and smoke runs) with open_clip.
"""

import open_clip

from rs_vlm.models.checkpoint import (
    LAYOUTS,
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
    get_tokenizer,
    load_model,
    register_model_config,
)
from rs_vlm.models.fsdp import CLIP_BLOCK_TYPES, CLIPFSDPStrategy

__all__ = [
    'CLIP_BLOCK_TYPES',
    'LAYOUTS',
    'MODEL_CONFIG_DIR',
    'CLIPFSDPStrategy',
    'check_finite_weights',
    'convert_state_dict',
    'create_clip',
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
