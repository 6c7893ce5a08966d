from pathlib import Path
from types import SimpleNamespace

import open_clip
import pytest
import torch

from rs_vlm.datamodules import CLIP_MEAN, CLIP_STD, CaptionDataModule
from rs_vlm.datasets import CaptionCSVDataset


def test_batches_follow_the_contract(caption_csv: Path) -> None:
    datamodule = CaptionDataModule(
        train_csv=caption_csv, val_csv=caption_csv, image_size=32, batch_size=4, context_length=16
    )
    datamodule.setup('fit')
    tokenizer = open_clip.get_tokenizer('ViT-B-32', context_length=16)

    datamodule.trainer = SimpleNamespace(training=False)  # type: ignore[assignment]
    raw = next(iter(datamodule.val_dataloader()))
    assert raw['image'].shape == (4, 3, 32, 32)
    assert raw['text'].dtype == torch.long and raw['text'].shape == (4, 16)
    assert torch.equal(raw['text'], tokenizer(raw['caption']))
    dataset = CaptionCSVDataset(caption_csv, mode='retrieval', image_size=32)
    assert torch.allclose(raw['image'][1], dataset[1]['image'])
    batch = datamodule.on_after_batch_transfer(dict(raw), 0)
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(CLIP_STD).view(3, 1, 1)
    expected = (raw['image'] / 255 - mean) / std
    assert torch.allclose(batch['image'], expected, atol=1e-4)
    assert batch['caption'] == raw['caption']

    datamodule.trainer = SimpleNamespace(training=True)  # type: ignore[assignment]
    train_raw = next(iter(datamodule.train_dataloader()))
    train = datamodule.on_after_batch_transfer(dict(train_raw), 0)
    assert train['image'].shape == (4, 3, 32, 32)
    assert train['image'].dtype == torch.float32
    for caption, text in zip(train['caption'], train['text']):
        assert torch.equal(text, tokenizer([caption])[0])


def test_training_flip_and_rotation_are_dihedral(caption_csv: Path) -> None:
    datamodule = CaptionDataModule(train_csv=caption_csv, image_size=8, batch_size=6)
    image = torch.rand(6, 3, 8, 8) * 255
    aug = datamodule.train_aug
    aug[0].p = 0.0  # disable the crop: flips and quarter turns must permute pixels exactly
    out = aug({'image': image})['image']
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1) * 255
    std = torch.tensor(CLIP_STD).view(3, 1, 1) * 255
    restored = out * std + mean
    for original, candidate in zip(image, restored):
        variants = [
            torch.rot90(v, k, dims=(1, 2)) for v in (original, original.flip(2)) for k in range(4)
        ]
        assert any(torch.allclose(candidate, variant, atol=1e-3) for variant in variants)


def test_epoch_order_is_a_function_of_seed_and_epoch(caption_csv: Path) -> None:
    datamodule = CaptionDataModule(train_csv=caption_csv, image_size=8, batch_size=2, seed=1)
    datamodule.setup('fit')
    loader = datamodule.train_dataloader()
    sampler = loader.sampler
    sampler.set_epoch(0)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    sampler.set_epoch(0)
    assert list(sampler) == first
    assert sorted(index for index, _ in first) == list(range(6))
    assert [index for index, _ in first] != [index for index, _ in second]
    assert {epoch for _, epoch in second} == {1}


def test_unknown_tokenizer_name_is_refused(caption_csv: Path) -> None:
    with pytest.raises(ValueError, match='unknown model name'):
        CaptionDataModule(train_csv=caption_csv, tokenizer='no-such-model')
