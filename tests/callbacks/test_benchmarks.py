"""The recipe's evaluation callbacks from one data root: present benchmarks in, absent skipped."""

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rs_vlm.callbacks import RetrievalCallback, ZeroShotCallback
from rs_vlm.callbacks.benchmarks import retrieval_benchmarks, zero_shot_benchmarks

FOLDERS = ('aGrass', 'bField', 'cIndustry', 'dRiverLake', 'eForest', 'fResident', 'gParking')


def test_present_benchmarks_are_used_and_absent_ones_warn_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for index, folder in enumerate(FOLDERS):  # RS2800 (RSSCN7): 7 classes x 5 images
        (tmp_path / 'RS2800' / folder).mkdir(parents=True)
        for i in range(5):
            pixels = np.full((16, 16, 3), 30 * index + i, dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / 'RS2800' / folder / f'{i}.jpg')
    rsicd = tmp_path / 'RSICD'
    (rsicd / 'images').mkdir(parents=True)
    Image.new('RGB', (16, 16)).save(rsicd / 'images' / 'a.jpg')
    (rsicd / 'test_filename.txt').write_text('a.jpg\n' * 5)
    (rsicd / 'test_caps.txt').write_text(''.join(f'caption {i}\n' for i in range(5)))
    with caplog.at_level(logging.WARNING, logger='rs_vlm.datasets'):
        zero_shot = zero_shot_benchmarks(str(tmp_path), every_n_epochs=2)
        retrieval = retrieval_benchmarks(str(tmp_path))
    assert isinstance(zero_shot, ZeroShotCallback) and isinstance(retrieval, RetrievalCallback)
    assert list(zero_shot.datasets) == ['RS2800'] and zero_shot.every_n_epochs == 2
    assert len(zero_shot.datasets['RS2800']) == 7  # the last 20% of 5 per class
    assert list(retrieval.datasets) == ['RSICD']
    assert retrieval.datasets['RSICD'].captions == [f'caption {i}' for i in range(5)]
    skipped = [r.getMessage() for r in caplog.records]
    assert len(skipped) == 11 + 2  # 11 scene sets and RSITMD, UCM-Captions: one warning each
    assert any(f'AID skipped: not found at {tmp_path / "AID"}' in m for m in skipped)
    assert any(f'RSITMD skipped: not found at {tmp_path / "RSITMD"}' in m for m in skipped)


def test_unknown_benchmark_name_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown zero-shot benchmarks \\['NWPU'\\]"):
        zero_shot_benchmarks(str(tmp_path), names=['NWPU'])
