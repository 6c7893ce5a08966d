"""SyntheticAerialDataModule: CLIP batches, evaluation views, a short fit with RemoteCLIPModule."""

import math
from types import SimpleNamespace

import pytest
import torch

from rs_vlm.datamodules.augmentation import CLIP_MEAN, CLIP_STD
from rs_vlm.synthetic.aerial import SyntheticAerial
from rs_vlm.synthetic.datamodule import SyntheticAerialDataModule

# The datamodule is a torchgeo NonGeoDataModule.
pytestmark = pytest.mark.torchgeo


def make_datamodule(**kwargs) -> SyntheticAerialDataModule:
    options = {
        'image_size': 32,
        'batch_size': 7,
        'tokenizer': 'rs-vit-tiny',
        'train_length': 21,
        'val_length': 14,
        'test_length': 14,
        'seed': 3,
    }
    options.update(kwargs)
    return SyntheticAerialDataModule(**options)


def test_training_batches_are_tokenised_and_normalised() -> None:
    datamodule = make_datamodule()
    datamodule.setup('fit')
    batch = next(iter(datamodule.train_dataloader()))
    assert batch['image'].shape == (7, 3, 32, 32)
    assert torch.equal(batch['text'], datamodule.tokenizer(batch['caption']))
    # Evaluation path at the rendered size: only CLIP normalisation, in 0..255 units.
    datamodule.trainer = SimpleNamespace(training=False)  # type: ignore[assignment]
    out = datamodule.on_after_batch_transfer(dict(batch), 0)
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1) * 255
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1) * 255
    torch.testing.assert_close(out['image'], (batch['image'] - mean) / std)
    assert torch.equal(out['text'], batch['text'])
    # Training path: augmented (cropped, turned), still model-sized and normalised.
    datamodule.trainer = SimpleNamespace(training=True)  # type: ignore[assignment]
    trained = datamodule.on_after_batch_transfer(dict(batch), 0)
    assert trained['image'].shape == (7, 3, 32, 32)
    low = max(m / s for m, s in zip(CLIP_MEAN, CLIP_STD))
    high = max((1 - m) / s for m, s in zip(CLIP_MEAN, CLIP_STD))
    assert trained['image'].min() >= -low - 1e-4
    assert trained['image'].max() <= high + 1e-4


def test_training_order_and_captions_repeat_per_epoch() -> None:
    first = make_datamodule()
    second = make_datamodule()
    first.setup('fit')
    second.setup('fit')
    captions_a = [c for b in first.train_dataloader() for c in b['caption']]
    captions_b = [c for b in second.train_dataloader() for c in b['caption']]
    assert captions_a == captions_b
    assert len(captions_a) == 21


def test_render_size_and_evaluation_views() -> None:
    datamodule = make_datamodule(render_size=64)
    datamodule.setup('fit')
    assert datamodule.val_dataset[0]['image'].shape == (3, 64, 64)
    scene = datamodule.synthetic_dataset('test', 'scene')
    retrieval = datamodule.synthetic_dataset('val', 'retrieval')
    count = datamodule.synthetic_dataset('test', 'count')
    assert isinstance(scene, SyntheticAerial) and scene.task == 'scene'
    assert (scene.split, len(scene), scene.image_size, scene.seed) == ('test', 14, 64, 3)
    assert (retrieval.task, retrieval.split, len(retrieval.captions)) == ('retrieval', 'val', 70)
    assert count.task == 'count'
    assert set(count[0]) == {'image', 'caption', 'label', 'class_name'}
    # The views show the same images as the caption splits.
    assert torch.equal(retrieval[5]['image'], datamodule.val_dataset[5]['image'])


@pytest.mark.slow
def test_fit_remoteclip_for_two_steps(quiet_trainer) -> None:
    from rs_vlm.modules import RemoteCLIPModule

    torch.manual_seed(0)
    module = RemoteCLIPModule('rs-vit-tiny', lr=1e-3, warmup_steps=1)
    trainer = quiet_trainer(fast_dev_run=2)
    trainer.fit(module, datamodule=make_datamodule())
    loss = trainer.callback_metrics['train/loss']
    assert math.isfinite(float(loss))


@pytest.mark.slow
def test_evaluation_callbacks_accept_the_views(quiet_trainer) -> None:
    """The real zero-shot, retrieval and counting callbacks run on the datamodule's views."""
    from rs_vlm.callbacks import CountingCallback, RetrievalCallback, ZeroShotCallback
    from rs_vlm.modules import RemoteCLIPModule

    torch.manual_seed(0)
    datamodule = make_datamodule(render_size=64)
    callbacks = [
        ZeroShotCallback({'synthetic': datamodule.synthetic_dataset('test', 'scene')}),
        RetrievalCallback({'synthetic': datamodule.synthetic_dataset('test', 'retrieval')}),
        CountingCallback(
            datamodule.synthetic_dataset('test', 'count'), name='synthetic_count', style='digit'
        ),
    ]
    trainer = quiet_trainer(callbacks=callbacks)
    trainer.validate(RemoteCLIPModule('rs-vit-tiny'), datamodule=datamodule)
    metrics = trainer.callback_metrics
    for key in ('synthetic/top1', 'synthetic/mean_recall', 'synthetic_count/top1'):
        value = float(metrics[f'val/{key}'])
        assert 0 <= value <= 100, key
    assert float(metrics['val/synthetic_count/top10']) == pytest.approx(100)
    assert float(metrics['val/synthetic_count/skipped']) == 0
