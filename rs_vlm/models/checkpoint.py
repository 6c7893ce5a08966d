"""Read CLIP weights from every checkpoint layout we support and load them into a model.

Files are read with ``torch.load(..., weights_only=True)`` or, for ``.safetensors`` files
(recognised by their header, whatever the suffix), with ``safetensors``; an open_clip folder
(``open_clip_config.json`` beside ``open_clip_model.safetensors`` or
``open_clip_pytorch_model.bin``, as ``rs-vlm export`` writes) is read through its weights file.

Layouts:

- ``open_clip``: a plain open_clip ``CLIP`` state_dict (``visual.*``, ``token_embedding.weight``,
  ``logit_scale``...), the format of the official RemoteCLIP release files.
- ``open_clip_train``: ``{'state_dict': {'module.visual.*', ...}, 'epoch': ...}`` as written by
  open_clip's trainer under DDP.
- ``itra``: the raw RemoteCLIP training checkpoint, ``{'state_dict': {'module.image_backbone.*',
  'module.text_backbone.*', 'module.logit_scale'}, ...}``; ``image_backbone`` is ``visual`` and
  ``text_backbone`` is the rest of the open_clip model.
- ``lightning``: our own Lightning ``.ckpt`` (``state_dict`` with ``model.*`` keys).
"""

import json
import math
import pickle
import re
import struct
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import open_clip
import torch
from torch import Tensor, nn

from rs_vlm.errors import CheckpointError

__all__ = [
    'OPEN_CLIP_FOLDER_WEIGHTS',
    'CheckpointLayout',
    'check_finite_weights',
    'convert_state_dict',
    'guess_architecture',
    'load_state_dict_into',
    'load_weights',
    'read_checkpoint',
    'read_state_dict',
]

#: The checkpoint layouts :func:`read_state_dict` understands.
#: The checkpoint layouts :func:`convert_state_dict` recognises.
CheckpointLayout = Literal['open_clip', 'open_clip_train', 'itra', 'lightning']

_ITRA_PREFIXES = {
    'module.image_backbone.': 'visual.',
    'module.text_backbone.': '',
    'module.logit_scale': 'logit_scale',
}
_OPEN_CLIP_MARKERS = ('visual.', 'token_embedding.', 'text.', 'logit_scale')

#: Weight files of an open_clip folder, in open_clip's order of preference.
OPEN_CLIP_FOLDER_WEIGHTS = (
    'open_clip_model.safetensors',
    'open_clip_pytorch_model.safetensors',
    'open_clip_pytorch_model.bin',
    'open_clip_pytorch_model.pth',
)


def _is_safetensors(path: Path) -> bool:
    """True when the file starts as safetensors does: an 8-byte header size, then JSON."""
    with open(path, 'rb') as handle:
        head = handle.read(9)
    if len(head) < 9 or head[8:9] != b'{':
        return False
    (size,) = struct.unpack('<Q', head[:8])
    return 0 < size <= path.stat().st_size - 8


def _read_safetensors(path: Path) -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    # load_file memory-maps the file; errors in the header or offsets surface as SafetensorError

    try:
        return load_file(path, device='cpu')
    except (SafetensorError, OSError, ValueError, json.JSONDecodeError) as error:
        raise CheckpointError(
            path, f'not a readable safetensors file ({type(error).__name__}: {error})'
        ) from error


def _folder_weights(path: Path) -> Path | None:
    if not (path / 'open_clip_config.json').is_file():
        return None
    return next((path / name for name in OPEN_CLIP_FOLDER_WEIGHTS if (path / name).is_file()), None)


def read_checkpoint(path: str | Path) -> object:
    """``torch.load`` a file safely (``weights_only=True``) with errors that name the file.

    Args:
        path: The checkpoint file.

    Returns:
        Whatever the file holds (tensors, dicts, lists and plain values only).

    Raises:
        CheckpointError: If the file is missing, a folder, not a torch file, or holds pickled
            objects other than tensors and plain containers.
    """
    path = Path(path)
    if path.is_dir() and (weights := _folder_weights(path)) is not None:
        path = weights
    if path.is_dir():
        raise CheckpointError(
            path,
            'is a folder without open_clip_config.json and weights (a sharded FSDP checkpoint?); '
            'expected one file or an open_clip folder. Consolidate a sharded one with '
            '`python -m lightning.pytorch.utilities.consolidate_checkpoint <folder>` or train with '
            "FSDP state_dict_type='full'",
        )
    if not path.is_file():
        raise CheckpointError(path, 'no such checkpoint file')
    if path.suffix.lower() == '.safetensors' or _is_safetensors(path):
        return _read_safetensors(path)
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        message = str(error)
        detail = re.search(r'[^\n]*\b(?:GLOBAL|[Gg]lobal)\b[^\n]*', message)
        if detail is None:  # not code, just bytes the unpickler cannot parse (1-byte files...)
            reason = f'{path.stat().st_size} bytes, corrupt or truncated'
            raise CheckpointError(path, f'not a readable torch checkpoint ({reason})') from error
        first_line = detail.group(0).strip()
        raise CheckpointError(
            path,
            'refused to unpickle: the file holds Python objects other than tensors and plain '
            f'containers, which weights_only loading does not execute ({first_line})',
        ) from error
    except Exception as error:
        # Empty, truncated or corrupt files (torch zip or pickle, safetensors): the readers
        # fail with EOFError, RuntimeError, IndexError, SafetensorError and more.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else 'file ends early'
        raise CheckpointError(
            path, f'not a readable torch checkpoint ({type(error).__name__}: {reason})'
        ) from error


def _strip(state_dict: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {
        key[len(prefix) :]: value for key, value in state_dict.items() if key.startswith(prefix)
    }


def check_finite_weights(state_dict: Mapping[str, Tensor], source: str | Path) -> None:
    """Refuse weights holding NaN or infinite values.

    A run that diverged can save such a checkpoint; every embedding it computes is NaN, and
    rankings or class scores made from them are silently meaningless. ``attn_mask`` buffers
    (``-inf`` above the diagonal by design) are not checked.

    Args:
        state_dict: Weights with open_clip key names.
        source: The file they came from (for the message).

    Raises:
        CheckpointError: Naming how many tensors hold non-finite values and the first of them.
    """
    bad = []
    for key, value in state_dict.items():
        if key.endswith('attn_mask') or not value.is_floating_point():
            continue
        finite = torch.isfinite(value)
        if not bool(finite.all()):
            bad.append((key, int((~finite).sum()), value.numel()))
    if bad:
        key, count, total = bad[0]
        raise CheckpointError(
            source,
            f'{len(bad)} of {len(state_dict)} weight tensors hold NaN or infinite values (first: '
            f'{key!r}, {count} of {total} values); the run that wrote it diverged. Use an '
            'earlier checkpoint',
            key=key,
        )


def convert_state_dict(
    obj: object, source: str | Path = '<memory>'
) -> tuple[dict[str, Tensor], CheckpointLayout]:
    """Turn a loaded checkpoint of any supported layout into a plain open_clip state_dict.

    Args:
        obj: What :func:`read_checkpoint` returned.
        source: The file it came from (for error messages).

    Returns:
        ``(state_dict, layout)`` with ``layout`` one of :data:`CheckpointLayout`.

    Raises:
        CheckpointError: If the layout is none of the supported ones, or a weight holds NaN
            or infinite values.
    """
    state_dict, layout = _convert_layout(obj, source)
    check_finite_weights(state_dict, source)
    return state_dict, layout


def _check_tensor_mapping(mapping: Mapping[Any, Any], source: str | Path, prefix: str) -> None:
    """Refuse a state_dict whose keys are not strings or whose values are not tensors."""
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise CheckpointError(source, f'{prefix}{key!r}: weight names must be strings')
        if not isinstance(value, Tensor):
            raise CheckpointError(
                source, f'holds a {type(value).__name__}, expected a tensor', key=prefix + key
            )


def _convert_layout(obj: object, source: str | Path) -> tuple[dict[str, Tensor], CheckpointLayout]:
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(
            source,
            f'holds a {type(obj).__name__}, expected a state_dict (dict of tensors) or a dict '
            "with a 'state_dict' entry",
        )
    if 'state_dict' in obj and isinstance(obj['state_dict'], Mapping):
        inner = obj['state_dict']
        _check_tensor_mapping(inner, source, 'state_dict.')
        keys = list(inner)
        if 'pytorch-lightning_version' in obj or any(key.startswith('model.') for key in keys):
            state_dict = _strip(inner, 'model.')
            if not state_dict:
                raise CheckpointError(
                    source,
                    "Lightning checkpoint without 'model.*' weights; expected one written by "
                    'RemoteCLIPModule',
                    key='state_dict',
                )
            return state_dict, 'lightning'
        if any(key.startswith('module.image_backbone.') for key in keys):
            state_dict = {}
            for key, value in inner.items():
                for prefix, replacement in _ITRA_PREFIXES.items():
                    if key.startswith(prefix):
                        state_dict[replacement + key[len(prefix) :]] = value
                        break
            return state_dict, 'itra'
        if keys and all(key.startswith('module.') for key in keys):
            return _strip(inner, 'module.'), 'open_clip_train'
        if any(key.startswith(_OPEN_CLIP_MARKERS) for key in keys):
            return dict(inner), 'open_clip_train'
        raise CheckpointError(
            source,
            f'unknown key layout (first keys {keys[:3]}); expected open_clip keys, '
            "'module.*', 'module.image_backbone.*' or 'model.*'",
            key='state_dict',
        )
    keys = list(obj)
    if not all(isinstance(key, str) for key in keys):
        bad_key = next(key for key in keys if not isinstance(key, str))
        raise CheckpointError(source, f'key {bad_key!r} is not a string; expected a state_dict')
    if not all(isinstance(value, Tensor) for value in obj.values()):
        bad = next(key for key, value in obj.items() if not isinstance(value, Tensor))
        raise CheckpointError(
            source,
            f"holds a {type(obj[bad]).__name__}, expected a tensor (no 'state_dict' entry, so the "
            'file should be a plain state_dict)',
            key=str(bad),
        )
    if all(key.startswith('module.') for key in keys):
        return _strip(obj, 'module.'), 'open_clip_train'
    if any(key.startswith(_OPEN_CLIP_MARKERS) for key in keys):
        return dict(obj), 'open_clip'
    raise CheckpointError(
        source,
        f'unknown key layout (first keys {keys[:3]}); expected an open_clip CLIP state_dict '
        "('visual.*', 'token_embedding.weight', 'logit_scale', ...)",
    )


def read_state_dict(path: str | Path) -> tuple[dict[str, Tensor], CheckpointLayout]:
    """Read a checkpoint of any supported layout as a plain open_clip state_dict.

    Args:
        path: The checkpoint file.

    Returns:
        ``(state_dict, layout)``.
    """
    return convert_state_dict(read_checkpoint(path), path)


def _count_blocks(keys: list[str], pattern: str) -> int:
    regex = re.compile(pattern)
    return len({match.group(1) for key in keys if (match := regex.match(key))})


def _signature(state_dict: Mapping[str, Tensor]) -> dict[str, object] | None:
    """The architecture facts a state_dict reveals (tower type, depth, width, sizes)."""
    keys = list(state_dict)
    try:
        vocab_size, text_width = state_dict['token_embedding.weight'].shape
        context_length = state_dict['positional_embedding'].shape[0]
    except (KeyError, ValueError):
        return None
    signature: dict[str, object] = {
        'vocab_size': int(vocab_size),
        'text_width': int(text_width),
        'text_layers': _count_blocks(keys, r'transformer\.resblocks\.(\d+)\.'),
        'context_length': int(context_length),
    }
    if 'visual.layer1.0.conv1.weight' in state_dict:
        layers = [_count_blocks(keys, rf'visual\.layer{i}\.(\d+)\.') for i in range(1, 5)]
        signature.update(
            vision='resnet',
            layers=layers,
            width=int(state_dict['visual.layer1.0.conv1.weight'].shape[0]),
        )
        if 'visual.attnpool.c_proj.weight' in state_dict:
            signature['embed_dim'] = int(state_dict['visual.attnpool.c_proj.weight'].shape[0])
        if 'visual.attnpool.positional_embedding' in state_dict:
            tokens = state_dict['visual.attnpool.positional_embedding'].shape[0]
            signature['image_size'] = round(math.sqrt(tokens - 1)) * 32
    elif 'visual.conv1.weight' in state_dict:
        conv = state_dict['visual.conv1.weight']
        signature.update(
            vision='vit',
            layers=_count_blocks(keys, r'visual\.transformer\.resblocks\.(\d+)\.'),
            width=int(conv.shape[0]),
            patch_size=int(conv.shape[-1]),
        )
        if 'visual.proj' in state_dict:
            signature['embed_dim'] = int(state_dict['visual.proj'].shape[1])
        if 'visual.positional_embedding' in state_dict:
            tokens = state_dict['visual.positional_embedding'].shape[0]
            signature['image_size'] = round(math.sqrt(tokens - 1)) * int(conv.shape[-1])
    return signature


def _config_signature(config: Mapping[str, object]) -> dict[str, object] | None:
    vision = config.get('vision_cfg', {})
    text = config.get('text_cfg', {})
    if not isinstance(vision, Mapping) or not isinstance(text, Mapping):
        return None
    if vision.get('timm_model_name') or text.get('hf_model_name'):
        return None
    layers = vision.get('layers')
    image_size = vision.get('image_size', 224)
    signature: dict[str, object] = {
        'vocab_size': text.get('vocab_size', 49408),
        'image_size': image_size if isinstance(image_size, int) else None,
        'text_width': text.get('width', 512),
        'text_layers': text.get('layers', 12),
        'context_length': text.get('context_length', 77),
        'width': vision.get('width', 768),
        'embed_dim': config.get('embed_dim'),
    }
    if isinstance(layers, list | tuple):
        signature.update(vision='resnet', layers=list(layers))
    else:
        signature.update(vision='vit', layers=layers, patch_size=vision.get('patch_size', 16))
    return signature


def guess_architecture(state_dict: Mapping[str, Tensor]) -> list[str]:
    """Names of open_clip model configs whose shapes match a state_dict.

    The tower type, depth and widths are read from the keys and tensor shapes (e.g.
    ``visual.layer1.*`` means a ModifiedResNet; the count of ``visual.transformer.resblocks``
    and the width of ``visual.conv1`` tell ViT-B from ViT-L) and compared with every registered
    open_clip config.

    Args:
        state_dict: A plain open_clip state_dict.

    Returns:
        Matching model names, ``-quickgelu`` variants first (OpenAI-initialised weights, such
        as RemoteCLIP's, were trained with QuickGELU), then shortest first; empty when none
        match.
    """
    wanted = _signature(state_dict)
    if wanted is None:
        return []
    matches = []
    for name in open_clip.list_models():
        config = open_clip.get_model_config(name)
        have = _config_signature(config) if config else None
        if have is not None and all(have.get(key) == value for key, value in wanted.items()):
            matches.append(name)
    return sorted(matches, key=lambda name: (not name.endswith('-quickgelu'), len(name), name))


def _describe(keys: list[str], limit: int = 8) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys) - limit} more)' if len(keys) > limit else '')


def load_state_dict_into(
    model: nn.Module, state_dict: Mapping[str, Tensor], source: str | Path = '<memory>'
) -> None:
    """Strictly load a plain open_clip state_dict into ``model``.

    ``logit_scale`` (and ``logit_bias``) are reshaped between 0-d and 1-d to match the model;
    a missing ``attn_mask`` buffer is not an error because open_clip rebuilds it.

    Args:
        model: An open_clip ``CLIP`` model.
        state_dict: Weights with open_clip key names.
        source: The file they came from (for error messages).

    Raises:
        CheckpointError: Listing missing, unexpected and mis-shaped keys and the model names
            whose architecture matches the file.
    """
    state_dict = dict(state_dict)
    expected = model.state_dict()
    for key in ('logit_scale', 'logit_bias'):
        if key in state_dict and key in expected:
            if state_dict[key].numel() == expected[key].numel():
                state_dict[key] = state_dict[key].reshape(expected[key].shape)
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    reshaped = sorted(
        f'{key} (file {list(state_dict[key].shape)}, model {list(expected[key].shape)})'
        for key in set(expected) & set(state_dict)
        if state_dict[key].shape != expected[key].shape
    )
    if missing or unexpected or reshaped:
        guesses = guess_architecture(state_dict)
        parts = [
            f'weights do not fit the model ({len(missing)} missing, {len(unexpected)} unexpected, '
            f'{len(reshaped)} with another shape)'
        ]
        if missing:
            parts.append(f'missing: {_describe(missing)}')
        if unexpected:
            parts.append(f'unexpected: {_describe(unexpected)}')
        if reshaped:
            parts.append(f'other shape: {_describe(reshaped, 4)}')
        if guesses:
            parts.append(f'the file matches the architecture of: {", ".join(guesses[:6])}')
        else:
            towers = Counter(key.split('.')[0] for key in state_dict)
            parts.append(f'no known open_clip architecture matches (top-level keys {dict(towers)})')
        raise CheckpointError(source, '; '.join(parts))
    model.load_state_dict(state_dict, strict=True)


def load_weights(model: nn.Module, path: str | Path) -> CheckpointLayout:
    """Load a checkpoint file of any supported layout into ``model`` (strict).

    Args:
        model: An open_clip ``CLIP`` model.
        path: The checkpoint file.

    Returns:
        The layout the file had (one of :data:`CheckpointLayout`).

    Raises:
        CheckpointError: For unreadable files, unknown layouts or a wrong architecture.
    """
    state_dict, layout = read_state_dict(path)
    load_state_dict_into(model, state_dict, path)
    return layout
