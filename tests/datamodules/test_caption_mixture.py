from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

from rs_vlm.cli import main as rs_vlm_main
from rs_vlm.datamodules import CaptionMixtureDataModule
from rs_vlm.datasets import CaptionCSVDataset
from rs_vlm.samplers import WeightedMixtureSampler


def _csv(folder: Path, make_image, count: int, tag: str) -> Path:
    rows = ['filepath,title']
    for index in range(count):
        make_image(folder / f'{tag}{index}.jpg', (24, 24), seed=index)
        rows += [f'{tag}{index}.jpg,{tag} picture {index}', f'{tag}{index}.jpg,{tag} image {index}']
    path = folder / f'{tag}.csv'
    path.write_text('\n'.join(rows) + '\n')
    return path


def test_sampler_counts_follow_weights() -> None:
    sampler = WeightedMixtureSampler([10, 4], weights=[1.0, 3.0], num_samples=20, seed=1)
    assert sampler.counts() == [5, 15]
    drawn = list(sampler)
    sources = Counter('a' if index < 10 else 'b' for index, _ in drawn)
    assert sources == {'a': 5, 'b': 15}
    # source b (4 images) is up-sampled: every image 3 or 4 times, never 5
    per_image = Counter(index for index, _ in drawn if index >= 10)
    assert sorted(per_image.values()) == [3, 4, 4, 4]
    # source a is down-sampled without repeats
    assert len({index for index, _ in drawn if index < 10}) == 5
    sampler.set_epoch(1)
    assert [i for i, _ in sampler] != [i for i, _ in drawn]
    sampler.set_epoch(0)
    assert list(sampler) == drawn


def test_default_weights_see_each_image_once() -> None:
    sampler = WeightedMixtureSampler([3, 5, 2])
    assert sorted(index for index, _ in sampler) == list(range(10))


def test_bad_weights() -> None:
    with pytest.raises(ValueError, match='2 weights given for 3 sources'):
        WeightedMixtureSampler([1, 2, 3], weights=[1, 1])


def test_mixture_datamodule_batches_and_retrieval_sets(tmp_path: Path, make_image) -> None:
    first = CaptionCSVDataset(_csv(tmp_path, make_image, 6, 'x'), image_size=24)
    second = CaptionCSVDataset(_csv(tmp_path, make_image, 3, 'y'), image_size=24)
    val = CaptionCSVDataset(_csv(tmp_path, make_image, 4, 'v'), image_size=24)
    datamodule = CaptionMixtureDataModule(
        train={'x': first, 'y': second},
        val={'v': val},
        weights={'x': 1.0, 'y': 1.0},
        samples_per_epoch=8,
        batch_size=4,
        image_size=24,
        context_length=12,
    )
    datamodule.setup('fit')
    datamodule.trainer = SimpleNamespace(training=True)  # type: ignore[assignment]
    captions = []
    for batch in datamodule.train_dataloader():
        batch = datamodule.on_after_batch_transfer(batch, 0)
        assert batch['image'].shape == (4, 3, 24, 24) and batch['text'].shape == (4, 12)
        captions += batch['caption']
    assert Counter(c[0] for c in captions) == {'x': 4, 'y': 4}
    retrieval = datamodule.retrieval_datasets['v']
    assert retrieval.mode == 'retrieval' and len(retrieval.captions) == 8
    assert int(retrieval[2]['index']) == 2
    val_batch = next(iter(datamodule.val_dataloader()))
    assert val_batch['caption'] == [f'v picture {i}' for i in range(4)]
    # the caller's corpora are left as given (the datamodule configures copies)
    for corpus in (first, second, val):
        assert corpus.mode == 'train' and corpus.tokenizer is None
        assert corpus.fixed_caption is None and corpus.image_dtype == torch.float32
    val.set_epoch(0)
    assert {val[(0, epoch)]['caption'] for epoch in range(8)} == {'v picture 0', 'v image 0'}


@pytest.mark.slow
def test_cli_fit_feeds_remoteclip_module(tmp_path: Path, make_image) -> None:
    train = _csv(tmp_path, make_image, 8, 't')
    config = {
        'seed_everything': 0,
        'trainer': {
            'fast_dev_run': 2,
            'accelerator': 'cpu',
            'logger': False,
            'enable_progress_bar': False,
            'default_root_dir': str(tmp_path / 'run'),
        },
        'model': {
            'class_path': 'rs_vlm.modules.RemoteCLIPModule',
            'init_args': {'model_name': 'rs-vit-tiny', 'warmup_steps': 1},
        },
        'data': {
            'class_path': 'rs_vlm.datamodules.CaptionDataModule',
            'init_args': {
                'train_csv': str(train),
                'val_csv': str(train),
                'image_size': 32,
                'batch_size': 4,
                'tokenizer': 'rs-vit-tiny',
            },
        },
    }
    path = tmp_path / 'config.yaml'
    path.write_text(yaml.safe_dump(config))
    torch.manual_seed(0)
    assert rs_vlm_main(['fit', '--config', str(path)]) == 0
