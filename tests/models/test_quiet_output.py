"""Healthy runs say nothing alarming; missing weights offline say one line, fast."""

import logging
import subprocess
import sys
import time
from pathlib import Path

import open_clip
import pytest
import torch

from rs_vlm.cli import main
from rs_vlm.models import load_model

TINY_CONFIG = Path(__file__).resolve().parents[1] / 'configs' / 'tiny-fit.yaml'


@pytest.fixture
def tiny_weights(tmp_path: Path) -> Path:
    path = tmp_path / 'tiny.pt'
    torch.save(open_clip.create_model('rs-vit-tiny').state_dict(), path)
    return path


def _alarms(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if 'initialized randomly' in r.getMessage()]


def test_no_random_init_message_when_weights_follow(
    tiny_weights: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    load_model('rs-vit-tiny', tiny_weights)
    out = tmp_path / 'export'
    for output in (out, out.with_suffix('.pt')):
        args = ['--checkpoint', str(tiny_weights), '--output', str(output)]
        assert main(['export', *args, '--model-name', 'rs-vit-tiny']) == 0
    assert _alarms(caplog) == []
    # open_clip's own message still reaches users of plain open_clip
    open_clip.create_model('rs-vit-tiny')
    assert len(_alarms(caplog)) == 1


def test_offline_pretrained_tag_in_fit_is_one_line(
    hub_cache: Path, capsys: pytest.CaptureFixture
) -> None:
    started = time.perf_counter()
    code = main(
        ['fit', '--config', str(TINY_CONFIG), '--model.init_args.model_name=RN50-quickgelu',
         '--model.init_args.pretrained=openai', '--trainer.max_steps=1']
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1, err
    assert err[0].startswith('rs-vlm fit: error: RN50-quickgelu pretrained=')
    assert 'HF_HUB_OFFLINE is set' in err[0] and 'hf download timm/resnet50_clip.openai' in err[0]
    assert elapsed < 10  # parsing the config included; no download retries


@pytest.mark.slow
def test_offline_release_in_predict_is_one_line(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    captions = tmp_path / 'captions.txt'
    captions.write_text('a harbour\n')
    run = subprocess.run(
        [sys.executable, '-m', 'rs_vlm', 'predict', 'embed', '--model', 'RemoteCLIP-ViT-B-32',
         '--captions', str(captions), '--output', str(tmp_path / 'out.npz')],
        env=subprocess_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert 'RemoteCLIP-ViT-B-32 (hf://chendelong/RemoteCLIP/RemoteCLIP-ViT-B-32.pt)' in lines[0]
    assert 'hf download chendelong/RemoteCLIP RemoteCLIP-ViT-B-32.pt' in lines[0]
    assert not (tmp_path / 'out.npz').exists()
