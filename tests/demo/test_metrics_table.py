"""MetricsTableCallback: chance levels (hand-worked and Monte-Carlo) and the printed table."""

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rs_vlm.callbacks import (
    CountingCallback,
    MetricsTableCallback,
    RetrievalCallback,
    ZeroShotCallback,
)
from rs_vlm.callbacks.metrics_table import chance_metrics, retrieval_chance
from rs_vlm.synthetic.aerial import SyntheticAerial


def monte_carlo_retrieval(
    caption_to_image: list[int], top_k: tuple[int, ...], trials: int, seed: int = 0
) -> dict[str, float]:
    """Recall@K (percent) of random scores, simulated: the second implementation to compare."""
    rng = np.random.default_rng(seed)
    owner = np.asarray(caption_to_image)
    num_images, num_captions = owner.max() + 1, len(owner)
    sums = {f'{d}_r{k}': 0.0 for k in top_k for d in ('i2t', 't2i')}
    for _ in range(trials):
        scores = rng.random((num_images, num_captions))
        captions_by_rank = np.argsort(-scores, axis=1)  # i2t: rank captions per image
        images_by_rank = np.argsort(-scores.T, axis=1)  # t2i: rank images per caption
        for k in top_k:
            i2t = owner[captions_by_rank[:, :k]] == np.arange(num_images)[:, None]
            sums[f'i2t_r{k}'] += i2t.any(axis=1).mean()
            t2i = images_by_rank[:, :k] == owner[:, None]
            sums[f't2i_r{k}'] += t2i.any(axis=1).mean()
    result = {key: 100 * value / trials for key, value in sums.items()}
    result['mean_recall'] = sum(result.values()) / len(result)
    return result


def test_retrieval_chance_by_hand() -> None:
    # Two images with five captions each. K=1: the top caption is one of the image's five out
    # of ten (50 %); the top image is the right one of two (50 %). K=5: only the one 5-subset
    # made of the other image's captions misses, 1 of C(10, 5) = 252; t2i always hits.
    chance = retrieval_chance([0] * 5 + [1] * 5, top_k=(1, 5))
    assert chance['i2t_r1'] == pytest.approx(50)
    assert chance['t2i_r1'] == pytest.approx(50)
    assert chance['i2t_r5'] == pytest.approx(100 * (1 - 1 / 252))
    assert chance['t2i_r5'] == pytest.approx(100)
    assert chance['mean_recall'] == pytest.approx((50 + 50 + 100 * (1 - 1 / 252) + 100) / 4)


@pytest.mark.parametrize(
    'caption_to_image',
    [
        [i // 5 for i in range(5 * 12)],  # the benchmark layout: 5 captions per image
        [0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 3, 4],  # uneven positives
    ],
)
def test_retrieval_chance_matches_monte_carlo(caption_to_image: list[int]) -> None:
    exact = retrieval_chance(caption_to_image)
    simulated = monte_carlo_retrieval(caption_to_image, (1, 5, 10), trials=3000)
    assert exact.keys() == simulated.keys()
    for key, value in exact.items():
        # 3000 trials of >= 5 queries: standard error below 0.5 percentage points.
        assert value == pytest.approx(simulated[key], abs=1.5), key


def test_retrieval_chance_rejects_empty() -> None:
    with pytest.raises(ValueError, match='at least one caption'):
        retrieval_chance([])


def make_callbacks() -> list:
    scene = SyntheticAerial(split='test', task='scene', image_size=32, length=14)
    retrieval = SyntheticAerial(split='test', task='retrieval', image_size=32, length=14)
    count = SyntheticAerial(split='test', task='count', image_size=32, length=14)
    return [
        ZeroShotCallback({'scenes': scene}),
        RetrievalCallback({'pairs': retrieval}),
        CountingCallback(count, name='counts', style='digit'),
    ]


def test_chance_metrics_follow_the_callbacks() -> None:
    chance = chance_metrics([*make_callbacks(), MetricsTableCallback()])
    levels = retrieval_chance([i // 5 for i in range(70)])
    assert chance == pytest.approx(
        {
            'val/scenes/top1': 100 / 7,
            'val/pairs/mean_recall': levels['mean_recall'],
            'val/pairs/i2t_r1': 100 * 5 / 70,
            'val/pairs/t2i_r1': 100 / 14,
            'val/counts/top1': 10.0,
        }
    )


def test_table_printed_and_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    callbacks = make_callbacks()
    table = MetricsTableCallback(output='report/metrics.json')
    trainer = SimpleNamespace(
        callbacks=[*callbacks, table],
        callback_metrics={
            'val/scenes/top1': torch.tensor(50.0),
            'val/pairs/mean_recall': torch.tensor(40.0),
            'val/counts/top1': torch.tensor(30.0),
        },
        default_root_dir=str(tmp_path),
    )
    table.on_fit_end(trainer, None)  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert 'Final metrics' in out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line[:4] == 'val/'}
    assert lines['val/scenes/top1'] == ['50.00', '14.29', '3.50']
    assert lines['val/counts/top1'] == ['30.00', '10.00', '3.00']
    assert lines['val/pairs/i2t_r1'][0] == '-'  # not logged
    rows = json.loads((tmp_path / 'report' / 'metrics.json').read_text())
    by_name = {row['metric']: row for row in rows}
    recall = by_name['val/pairs/mean_recall']
    assert recall['ratio'] == pytest.approx(40.0 / recall['chance'])
    assert by_name['val/pairs/t2i_r1']['value'] is None
    assert not list((tmp_path / 'report').glob('*.tmp*'))


def test_explicit_metrics_and_no_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = MetricsTableCallback({'val/loss': math.log(8)}, output=None)
    trainer = SimpleNamespace(
        callbacks=[table],
        callback_metrics={'val/loss': torch.tensor(1.0)},
        default_root_dir=str(tmp_path),
    )
    table.on_fit_end(trainer, None)  # type: ignore[arg-type]
    assert table.rows == [
        {'metric': 'val/loss', 'value': 1.0, 'chance': math.log(8), 'ratio': 1 / math.log(8)}
    ]
    assert 'val/loss' in capsys.readouterr().out
    assert not list(tmp_path.iterdir())
