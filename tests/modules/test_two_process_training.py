"""Two-process CPU runs (gloo): DDP and FSDP training, loss equality with open_clip's ClipLoss.

Each run is one subprocess (Lightning starts the second rank), shared by several asserts.
"""

import json
import socket
import subprocess
import sys
from pathlib import Path

import open_clip
import pytest
import torch

from rs_vlm.models import read_state_dict
from rs_vlm.models.export import export_checkpoint
from rs_vlm.modules import RemoteCLIPModule

SCRIPT = Path(__file__).with_name('scripts') / 'train_two_processes.py'

pytestmark = pytest.mark.slow


def _free_port() -> str:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def _run(mode: str, out: Path) -> dict:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), mode, str(out), _free_port()],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / 'report.json').read_text())


@pytest.fixture(scope='module')
def ddp_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _run('ddp', tmp_path_factory.mktemp('ddp'))


@pytest.fixture(scope='module')
def fsdp_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _run('fsdp', tmp_path_factory.mktemp('fsdp'))


def test_ddp_loss_matches_open_clip_clip_loss(ddp_report: dict) -> None:
    comparison = ddp_report['loss_comparison']
    assert comparison['grad_max'] > 0.1  # the gradients compared are not trivially zero
    for name in ('ours_local', 'ours_global', 'open_clip_distributed'):
        assert comparison[name]['loss_diff'] < 1e-5, name
        assert comparison[name]['grad_diff'] < 1e-5, name
    assert comparison['ours_local']['loss'] == pytest.approx(comparison['full_loss'], abs=1e-5)


def test_ddp_trains_and_keeps_ranks_in_sync(ddp_report: dict) -> None:
    assert ddp_report['world_size'] == 2
    assert ddp_report['global_step'] == 3
    assert len(ddp_report['losses']) == 3
    assert all(torch.isfinite(torch.tensor(ddp_report['losses'])))
    first, second = ddp_report['rank_checksums']
    assert first == second
    # lr 1e-3, 1 warm-up step, 3 steps: 1e-3 * [1, cos-decay(0) = 1, 0.5 * (1 + cos(pi / 2))]
    assert ddp_report['lrs'] == pytest.approx([1e-3, 1e-3, 0.5e-3])


def test_fsdp_wraps_blocks_and_trains(fsdp_report: dict) -> None:
    assert fsdp_report['world_size'] == 2
    assert fsdp_report['global_step'] == 3
    # rs-rn-tiny: 4 ResNet bottlenecks + 2 text transformer blocks are checkpointed.
    assert fsdp_report['wrapped']['checkpointed'] == 6
    assert fsdp_report['wrapped']['fsdp_units'] >= 7
    first, second = fsdp_report['rank_checksums']
    assert first == second
    assert all(torch.isfinite(torch.tensor(fsdp_report['losses'])))


def test_fsdp_full_checkpoint_exports_to_plain_open_clip(fsdp_report: dict, tmp_path: Path) -> None:
    checkpoint = Path(fsdp_report['checkpoint'])
    output = tmp_path / 'model.pt'
    export_checkpoint(checkpoint, output)
    state_dict = torch.load(output, weights_only=True)
    model = open_clip.create_model(fsdp_report['model_name'])
    model.load_state_dict(state_dict, strict=True)
    model.eval()
    module = RemoteCLIPModule(fsdp_report['model_name'], pretrained=str(checkpoint)).eval()
    trained, _ = read_state_dict(checkpoint)
    assert torch.equal(module.model.visual.conv1.weight, trained['visual.conv1.weight'])
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    tokens = module.tokenizer(['two ships', 'a bridge'])
    with torch.no_grad():
        expected = module.encode_images(images), module.encode_texts(tokens)
        got = (
            model.encode_image(images, normalize=True),
            model.encode_text(tokens, normalize=True),
        )
    torch.testing.assert_close(got[0], expected[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(got[1], expected[1], rtol=0, atol=1e-6)
