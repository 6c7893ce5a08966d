"""``rs-vlm export``: turn a training checkpoint into a plain open_clip state_dict.

The output has the layout of the official RemoteCLIP release files: no wrapper, no prefix,
fp32 tensors, and a 0-d ``logit_scale`` as ``open_clip.create_model(name)`` builds it, so
``model.load_state_dict(torch.load(path))`` loads it strictly.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import open_clip
import torch
from torch import Tensor

from rs_vlm.atomic import atomic_path
from rs_vlm.errors import CheckpointError, OutputPathError
from rs_vlm.models.checkpoint import convert_state_dict, load_state_dict_into, read_checkpoint
from rs_vlm.models.factory import register_model_config
from rs_vlm.output_paths import check_output_paths

__all__ = ['export_checkpoint', 'main']


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
        output: The ``.pt`` file to write.
        model_name: The open_clip model name; read from the checkpoint's hyper-parameters
            when None.
        verify: Strictly load the result into ``open_clip.create_model(model_name)`` before
            writing (needs a model name).

    Returns:
        The state_dict written.

    Raises:
        CheckpointError: If the checkpoint cannot be read or does not fit the model.
    """
    obj = read_checkpoint(checkpoint)
    state_dict, _ = convert_state_dict(obj, checkpoint)
    model_name = model_name or _model_name_from(obj)
    # The plain open_clip layout: fp32 (buffers keep their dtype), 0-d logit_scale / logit_bias.
    exported = {}
    for key, value in state_dict.items():
        value = value.detach().cpu().contiguous()
        if value.is_floating_point():
            value = value.float()
        if key in ('logit_scale', 'logit_bias') and value.numel() == 1:
            value = value.reshape(())
        exported[key] = value
    if verify:
        if model_name is None:
            raise CheckpointError(
                checkpoint,
                'no model name in the checkpoint; pass --model-name (or --no-verify)',
                key='hyper_parameters',
            )
        if open_clip.get_model_config(model_name) is None:
            raise CheckpointError(
                checkpoint, f'unknown model name {model_name!r}', key='hyper_parameters'
            )
        reference = open_clip.create_model(model_name)
        load_state_dict_into(reference, exported, checkpoint)
    with atomic_path(output) as tmp:
        torch.save(exported, tmp)
    return exported


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rs-vlm export``.

    Args:
        argv: Command-line arguments (after ``export``).

    Returns:
        0 on success, 1 when the checkpoint is bad.
    """
    parser = argparse.ArgumentParser(
        prog='rs-vlm export',
        description='Export a training checkpoint as a plain open_clip state_dict (.pt).',
    )
    parser.add_argument('--checkpoint', required=True, type=Path, help='Lightning .ckpt or .pt')
    parser.add_argument('--output', required=True, type=Path, help='the .pt file to write')
    parser.add_argument('--model-name', help='open_clip model name (default: from the checkpoint)')
    parser.add_argument(
        '--no-verify', action='store_true', help='skip the strict load into open_clip'
    )
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        check_output_paths({'--output': args.output}, {'--checkpoint': args.checkpoint})
        exported = export_checkpoint(
            args.checkpoint, args.output, model_name=args.model_name, verify=not args.no_verify
        )
    except (CheckpointError, OutputPathError) as error:
        print(f'rs-vlm export: {error}', file=sys.stderr)
        return 1
    print(f'wrote {args.output} ({len(exported)} tensors)')
    return 0
