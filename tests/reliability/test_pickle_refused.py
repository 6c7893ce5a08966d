"""Every checkpoint load refuses pickled code: a planted ``__reduce__`` never runs.

The planted file is a real torch checkpoint whose unpickling would call ``open(marker, 'w')``;
the control test shows that an unsafe ``torch.load`` does create the marker, so the others
would notice if any loader fell back to full unpickling.
"""

from pathlib import Path

import pytest
import torch
from lightning.fabric.utilities.load import _lazy_load
from torch.utils.data import DataLoader

from rs_vlm.errors import CheckpointError
from rs_vlm.models import CLIPFSDPStrategy, create_clip, load_model, load_weights, read_checkpoint
from rs_vlm.models.export import export_checkpoint
from rs_vlm.modules import RemoteCLIPModule
from rs_vlm.reliability import AtomicCheckpointIO


class _CreatesMarker:
    """Unpickling this object opens (creates) the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return open, (str(self.marker), 'w')


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path]:
    """A Lightning-looking checkpoint with one pickled object; and the marker it would create."""
    marker = tmp_path / 'code_ran'
    weights = {
        f'model.{key}': value for key, value in create_clip('rs-vit-tiny').state_dict().items()
    }
    checkpoint = {
        'state_dict': weights,
        'pytorch-lightning_version': '2.6.6',
        'hyper_parameters': {'model_name': 'rs-vit-tiny', 'payload': _CreatesMarker(marker)},
    }
    path = tmp_path / 'planted.ckpt'
    torch.save(checkpoint, path)
    return path, marker


def _assert_refused(info: pytest.ExceptionInfo, path: Path, marker: Path) -> None:
    assert str(path) in str(info.value)
    assert 'refused to unpickle' in str(info.value)
    assert not marker.exists()


def test_control_unsafe_load_would_run_the_code(planted: tuple[Path, Path]) -> None:
    path, marker = planted
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize(
    'load',
    [
        read_checkpoint,
        lambda path: load_weights(create_clip('rs-vit-tiny'), path),
        lambda path: load_model('rs-vit-tiny', path),
        lambda path: RemoteCLIPModule('rs-vit-tiny', pretrained=str(path)),
        lambda path: export_checkpoint(path, path.with_name('out.pt'), model_name='rs-vit-tiny'),
        lambda path: AtomicCheckpointIO().load_checkpoint(path),
        lambda path: AtomicCheckpointIO().load_checkpoint(path, weights_only=False),
    ],
    ids=[
        'read_checkpoint',
        'load_weights',
        'load_model',
        'module_pretrained',
        'export',
        'io',
        'io_asked_unsafe',
    ],
)
def test_loaders_refuse_pickled_code(planted: tuple[Path, Path], load) -> None:
    path, marker = planted
    with pytest.raises(CheckpointError) as info:
        load(path)
    _assert_refused(info, path, marker)
    assert not path.with_name('out.pt').exists()


def test_fsdp_strategy_refuses_pickled_code(planted: tuple[Path, Path]) -> None:
    """Lightning's FSDP load bypasses CheckpointIO with an unpickler that runs code."""
    path, marker = planted
    with pytest.raises(CheckpointError) as info:
        CLIPFSDPStrategy().load_checkpoint(path)
    _assert_refused(info, path, marker)
    _lazy_load(path)  # what FSDPStrategy.load_checkpoint uses for a single file
    assert marker.exists()  # ... does run the planted code


def test_trainer_resume_refuses_pickled_code(
    planted: tuple[Path, Path], tmp_path: Path, quiet_trainer
) -> None:
    """``trainer.fit(ckpt_path=...)`` as ``rs-vlm fit --ckpt_path`` runs it, even asked unsafe."""
    path, marker = planted
    module = RemoteCLIPModule('rs-vit-tiny', warmup_steps=1, max_steps=2)
    tokens = module.tokenizer(['a ship', 'a plane'])
    batches = [{'image': torch.zeros(3, 32, 32), 'text': tokens[i]} for i in range(2)]
    trainer = quiet_trainer(
        max_steps=2,
        plugins=[AtomicCheckpointIO()],
        default_root_dir=tmp_path,
    )
    with pytest.raises(CheckpointError) as info:
        trainer.fit(module, DataLoader(batches, batch_size=2), ckpt_path=path, weights_only=False)
    _assert_refused(info, path, marker)
