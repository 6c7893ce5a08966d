"""A checkpoint of a diverged run (NaN weights) is refused by export, predict and load_model."""

from pathlib import Path

import pytest
import torch

from rs_vlm.cli import main as rs_vlm
from rs_vlm.errors import CheckpointError
from rs_vlm.models import check_finite_weights, create_clip, load_model


def _checkpoint(tmp_path: Path, poison: str) -> Path:
    torch.manual_seed(0)
    state_dict = create_clip('rs-vit-tiny').state_dict()
    if poison == 'all':
        state_dict = {k: torch.full_like(v, float('nan')) for k, v in state_dict.items()}
    else:
        state_dict['visual.proj'][3, 5] = float('inf')
    checkpoint = {'state_dict': {f'model.{k}': v for k, v in state_dict.items()}}
    checkpoint['hyper_parameters'] = {'model_name': 'rs-vit-tiny'}
    checkpoint['pytorch-lightning_version'] = '2.6.0'
    path = tmp_path / f'{poison}.ckpt'
    torch.save(checkpoint, path)
    return path


@pytest.mark.parametrize('poison', ['all', 'one'])
def test_export_refuses_nonfinite_weights(tmp_path: Path, capsys, poison: str) -> None:
    checkpoint = _checkpoint(tmp_path, poison)
    output = tmp_path / 'out.pt'
    assert rs_vlm(['export', '--checkpoint', str(checkpoint), '--output', str(output)]) == 1
    error = capsys.readouterr().err
    assert str(checkpoint) in error and 'NaN or infinite values' in error
    if poison == 'one':
        assert "key 'visual.proj'" in error and '1 of ' in error
    assert not output.exists()


def test_predict_embed_refuses_nan_weights(tmp_path: Path, capsys) -> None:
    checkpoint = _checkpoint(tmp_path, 'all')
    captions = tmp_path / 'captions.txt'
    captions.write_text('a ship\ntwo planes\n', encoding='utf-8')
    output = tmp_path / 'emb.npz'
    args = ['predict', 'embed', '--model', 'rs-vit-tiny', '--checkpoint', str(checkpoint)]
    assert (
        rs_vlm([*args, '--captions', str(captions), '--output', str(output), '--device', 'cpu'])
        == 1
    )
    assert 'NaN or infinite values' in capsys.readouterr().err
    assert not output.exists()
    with pytest.raises(CheckpointError, match='NaN or infinite'):
        load_model('rs-vit-tiny', checkpoint)


def test_attention_masks_and_integer_buffers_are_not_checked() -> None:
    mask = torch.full((4, 4), float('-inf')).triu(1)
    check_finite_weights({'attn_mask': mask, 'visual.proj': torch.ones(2, 2)}, 'x.pt')
    check_finite_weights({'counter': torch.tensor([1, 2])}, 'x.pt')
