"""``rs-vlm export``: turn a training checkpoint into open_clip weights.

Three outputs, chosen by the output name:

- a folder (no suffix): ``open_clip_config.json`` (``model_cfg`` and ``preprocess_cfg``) and
  ``open_clip_model.safetensors``, the layout ``open_clip.create_model_and_transforms(
  'local-dir:DIR')`` (and ``hf-hub:`` repositories) load without rs_vlm, for any architecture;
- ``.pt`` / ``.pth`` / ``.bin``: one ``torch.save`` file, the layout of the official RemoteCLIP
  release files (``model.load_state_dict(torch.load(path))`` loads it strictly);
- ``.safetensors``: the same state_dict as a safetensors file.

The weights are fp32 with a 0-d ``logit_scale`` as ``open_clip.create_model(name)`` builds it,
no wrapper and no prefix.
"""

import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import open_clip
import torch
from torch import Tensor

from rs_vlm.atomic import atomic_path, atomic_write
from rs_vlm.console import CommandParser
from rs_vlm.errors import CheckpointError, OutputPathError
from rs_vlm.models.checkpoint import convert_state_dict, load_state_dict_into, read_checkpoint
from rs_vlm.models.factory import register_model_config
from rs_vlm.models.registry import architecture_of
from rs_vlm.output_paths import check_output_paths

__all__ = [
    'FOLDER_CONFIG',
    'FOLDER_WEIGHTS',
    'export_checkpoint',
    'main',
    'open_clip_folder_config',
]

#: File names of an open_clip folder, as open_clip's ``local-dir:`` / ``hf-hub:`` loaders read.
FOLDER_CONFIG = 'open_clip_config.json'
FOLDER_WEIGHTS = 'open_clip_model.safetensors'

_TORCH_SUFFIXES = ('.pt', '.pth', '.bin')


def _force_quick_gelu_from(obj: object) -> bool:
    if isinstance(obj, dict) and isinstance(obj.get('hyper_parameters'), dict):
        return bool(obj['hyper_parameters'].get('force_quick_gelu'))
    return False


def open_clip_folder_config(
    model_name: str, force_quick_gelu: bool = False, model: torch.nn.Module | None = None
) -> dict[str, Any]:
    """The ``open_clip_config.json`` content for a model: its config and preprocessing.

    Args:
        model_name: A registered open_clip model name or released-weights name.
        force_quick_gelu: The model was built with QuickGELU whatever its config says.
        model: The model built from ``model_name`` (built here when None), for its
            preprocessing settings.

    Returns:
        ``{'model_cfg': ..., 'preprocess_cfg': ...}`` as open_clip's ``local-dir:`` loader reads.
    """
    architecture = architecture_of(model_name)
    model_cfg = open_clip.get_model_config(architecture)
    if model_cfg is None:
        raise ValueError(f'unknown model name {model_name!r}')
    model_cfg = dict(model_cfg)
    if force_quick_gelu:
        model_cfg['quick_gelu'] = True
    if model is None:
        model = _build(architecture, force_quick_gelu)
    preprocess = dict(open_clip.get_model_preprocess_cfg(model))
    return {'model_cfg': model_cfg, 'preprocess_cfg': json.loads(json.dumps(preprocess))}


def _model_name_from(obj: object) -> str | None:
    if isinstance(obj, dict):
        hparams = obj.get('hyper_parameters') or {}
        if isinstance(hparams, dict):
            name = hparams.get('model_name')
            if isinstance(name, str):
                if hparams.get('model_config') is not None:
                    register_model_config(name, hparams['model_config'])
                return name
    return None


def _build(architecture: str, force_quick_gelu: bool, device: str = 'cpu') -> torch.nn.Module:
    from rs_vlm.models.factory import quiet_random_init

    with quiet_random_init():
        return open_clip.create_model(
            architecture, force_quick_gelu=force_quick_gelu, device=device
        )


def _write(exported: dict[str, Tensor], output: Path, config: dict[str, Any] | None) -> None:
    from safetensors.torch import save_file

    if output.suffix.lower() in _TORCH_SUFFIXES:
        with atomic_path(output) as tmp:
            torch.save(exported, tmp)
        return
    if output.suffix.lower() == '.safetensors':
        with atomic_path(output) as tmp:
            save_file(exported, tmp, metadata={'format': 'pt'})
        return
    if output.exists() and not output.is_dir():
        raise CheckpointError(output, 'exists and is not a folder; expected a folder name or .pt')
    assert config is not None
    output.mkdir(parents=True, exist_ok=True)
    # weights first: a folder with a config is only ever complete
    with atomic_path(output / FOLDER_WEIGHTS) as tmp:
        save_file(exported, tmp, metadata={'format': 'pt'})
    with atomic_write(output / FOLDER_CONFIG) as handle:
        json.dump(config, handle, indent=2)
        handle.write('\n')


def _refuse_unknown_file_suffix(output: Path) -> None:
    """Refuse a file-like name (``model.onnx``, ``last.ckpt``) that would become a folder.

    A name whose suffix is letters only and not one we write is taken for a file format we do
    not write, not a folder; names like ``RemoteCLIP-v1.0`` and existing folders stay folders.
    """
    suffix = output.suffix.lower()
    if (
        suffix[1:].isalpha()
        and suffix not in (*_TORCH_SUFFIXES, '.safetensors')
        and not output.is_dir()
    ):
        raise OutputPathError(
            output,
            f'unknown export suffix {output.suffix!r}: expected a folder name (an open_clip '
            'folder) or a .pt/.pth/.bin/.safetensors file',
        )


def export_checkpoint(
    checkpoint: str | Path,
    output: str | Path,
    *,
    model_name: str | None = None,
    verify: bool = True,
) -> dict[str, Tensor]:
    """Write the open_clip weights of ``checkpoint`` to ``output`` (atomically).

    Args:
        checkpoint: Any layout :func:`rs_vlm.models.read_state_dict` reads; usually a
            Lightning ``.ckpt`` from ``rs-vlm fit`` (DDP, or FSDP with full state dict).
        output: A folder for an open_clip folder (config + safetensors), or a ``.pt`` /
            ``.pth`` / ``.bin`` / ``.safetensors`` file for the state_dict alone.
        model_name: The open_clip model name; read from the checkpoint's hyper-parameters
            when None.
        verify: Strictly load the result into ``open_clip.create_model(model_name)`` before
            writing (needs a model name; a folder output always needs one).

    Returns:
        The state_dict written.

    Raises:
        CheckpointError: If the checkpoint cannot be read, does not fit the model, or
            ``output`` is the checkpoint itself.
    """
    checkpoint, output = Path(checkpoint), Path(output)
    if output.resolve() == checkpoint.resolve():
        raise CheckpointError(output, 'is the checkpoint being exported; choose another output')
    _refuse_unknown_file_suffix(output)
    obj = read_checkpoint(checkpoint)
    state_dict, _ = convert_state_dict(obj, checkpoint)
    model_name = model_name or _model_name_from(obj)
    force_quick_gelu = _force_quick_gelu_from(obj)
    # The plain open_clip layout: fp32 (buffers keep their dtype), 0-d logit_scale / logit_bias.
    exported = {}
    for key, value in state_dict.items():
        value = value.detach().cpu().contiguous()
        if value.is_floating_point():
            value = value.float()
        if key in ('logit_scale', 'logit_bias') and value.numel() == 1:
            value = value.reshape(())
        exported[key] = value.clone()  # safetensors refuses tensors that share storage
    folder = output.suffix.lower() not in (*_TORCH_SUFFIXES, '.safetensors')
    if (verify or folder) and model_name is None:
        raise CheckpointError(
            checkpoint,
            'no model name in the checkpoint; pass --model-name'
            + ('' if folder else ' (or --no-verify)'),
            key='hyper_parameters',
        )
    config = None
    if model_name is not None and (verify or folder):
        architecture = architecture_of(model_name)
        if open_clip.get_model_config(architecture) is None:
            raise CheckpointError(
                checkpoint, f'unknown model name {model_name!r}', key='hyper_parameters'
            )
        # Keys and shapes first, against a model on the meta device (no memory): a checkpoint
        # naming a huge architecture (ViT-bigG-14, 2.5 billion parameters) is refused before
        # gigabytes of random weights are allocated to find the mismatch.
        if verify:
            with warnings.catch_warnings(), torch.device('meta'):
                warnings.filterwarnings('ignore', message='.*meta parameter.*no-op')
                skeleton = _build(architecture, force_quick_gelu, device='meta')
                load_state_dict_into(skeleton, exported, checkpoint)
        reference = _build(architecture, force_quick_gelu)
        config = open_clip_folder_config(model_name, force_quick_gelu, reference)
        if verify:
            load_state_dict_into(reference, exported, checkpoint)
    _write(exported, output, config)
    return exported


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rs-vlm export``.

    Args:
        argv: Command-line arguments (after ``export``).

    Returns:
        0 on success, 1 when the checkpoint is bad.
    """
    parser = CommandParser(
        prog='rs-vlm export',
        description='Export a training checkpoint for plain open_clip: a folder (open_clip_config'
        ".json + open_clip_model.safetensors, loads with create_model_and_transforms('local-dir:"
        "DIR')) or one .pt / .safetensors state_dict file.",
    )
    parser.add_argument('--checkpoint', required=True, type=Path, help='Lightning .ckpt or .pt')
    parser.add_argument(
        '--output',
        required=True,
        type=Path,
        help='a folder (open_clip folder) or a .pt/.pth/.bin/.safetensors file',
    )
    parser.add_argument('--model-name', help='open_clip model name (default: from the checkpoint)')
    parser.add_argument(
        '--no-verify', action='store_true', help='skip the strict load into open_clip'
    )
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        _refuse_unknown_file_suffix(args.output)
        folder = args.output.suffix.lower() not in (*_TORCH_SUFFIXES, '.safetensors')
        check_output_paths(
            {'--output': args.output},
            {'--checkpoint': args.checkpoint},
            folders=['--output'] if folder else [],
        )
        exported = export_checkpoint(
            args.checkpoint, args.output, model_name=args.model_name, verify=not args.no_verify
        )
    except (CheckpointError, OutputPathError) as error:
        print(f'rs-vlm export: {error}', file=sys.stderr)
        return 1
    kind = 'open_clip folder' if args.output.is_dir() else 'state_dict'
    print(f'wrote {args.output} ({kind}, {len(exported)} tensors)')
    return 0
