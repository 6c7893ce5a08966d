from pathlib import Path
from types import SimpleNamespace

import open_clip
import pytest
import torch

from rs_vlm.datamodules import CLIP_MEAN, CLIP_STD, CaptionDataModule
from rs_vlm.datamodules.augmentation import (
    RandomResizedCrop,
    clip_mean_std,
    clip_train_augmentation,
)
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
    assert raw['image'].dtype == torch.uint8  # shipped as uint8, made float after transfer
    assert raw['text'].dtype == torch.long and raw['text'].shape == (4, 16)
    assert torch.equal(raw['text'], tokenizer(raw['caption']))
    dataset = CaptionCSVDataset(caption_csv, mode='retrieval', image_size=32)
    assert dataset[1]['image'].dtype == torch.float32  # the dataset's own default
    assert torch.equal(raw['image'][1].float(), dataset[1]['image'])
    batch = datamodule.on_after_batch_transfer(dict(raw), 0)
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(CLIP_STD).view(3, 1, 1)
    expected = (raw['image'].float() / 255 - mean) / std
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
    # the crop is drawn in the corpus over the whole image, so the batched pipeline has none:
    # flips and quarter turns must permute pixels exactly
    assert not any(isinstance(step, RandomResizedCrop) for step in aug)
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


@pytest.mark.parametrize('size', [224, 37])
def test_uint8_crop_matches_kornia_float_crop(size: int) -> None:
    """The uint8 fast path uses kornia's boxes and equals its float result to 1 grey level."""
    crop = clip_train_augmentation(size, *clip_mean_std())[0]
    assert isinstance(crop, RandomResizedCrop)
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 64, 80), generator=gen, dtype=torch.uint8)
    params = crop.forward_parameters(images.shape)
    ours = crop(images, params)
    assert ours.dtype == torch.uint8 and ours.shape == (6, 3, size, size)
    kornia_float = crop(images.float(), params)
    assert kornia_float.dtype == torch.float32
    difference = (ours.float() - kornia_float).abs()
    assert difference.max() <= 1.0 + 1e-3 and difference.mean() < 0.5
    # same random stream: drawing again from the same seed gives the same boxes either way
    torch.manual_seed(5)
    first = crop(images)
    torch.manual_seed(5)
    second = crop(images.float())
    assert (first.float() - second).abs().max() <= 1.0 + 1e-3


def test_uint8_and_float_batches_give_the_same_training_images() -> None:
    train_aug = clip_train_augmentation(32, *clip_mean_std())  # with the batched crop
    images = torch.randint(0, 256, (4, 3, 48, 48), dtype=torch.uint8)
    torch.manual_seed(3)
    from_uint8 = train_aug({'image': images})['image']
    torch.manual_seed(3)
    from_float = train_aug({'image': images.float()})['image']
    assert from_uint8.dtype == from_float.dtype == torch.float32
    one_level = 1 / (255 * min(CLIP_STD))
    assert (from_uint8 - from_float).abs().max() <= one_level + 1e-4
    assert (from_uint8 - from_float).abs().mean() < 0.5 * one_level


@pytest.mark.parametrize(
    ('precision', 'dtype'),
    [('bf16-true', torch.bfloat16), ('bf16-mixed', torch.float32), ('64-true', torch.float64)],
)
def test_uint8_batches_reach_the_model_in_the_precision_dtype(
    caption_csv: Path, precision: str, dtype: torch.dtype, quiet_trainer
) -> None:
    """Lightning casts float inputs before the transfer; uint8 images are cast after it."""
    from lightning.pytorch import Callback

    from rs_vlm.modules import RemoteCLIPModule

    seen: list[torch.dtype] = []

    class ImageDtype(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            seen.append(batch['image'].dtype)

        def on_validation_batch_start(
            self, trainer, pl_module, batch, batch_idx, dataloader_idx=0
        ) -> None:
            seen.append(batch['image'].dtype)

    datamodule = CaptionDataModule(
        train_csv=caption_csv, val_csv=caption_csv, image_size=32, batch_size=3
    )
    trainer = quiet_trainer(
        precision=precision,
        max_steps=1,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        callbacks=[ImageDtype()],
    )
    module = RemoteCLIPModule('rs-vit-tiny', lr=1e-3, warmup_steps=1, max_steps=1)
    trainer.fit(module, datamodule=datamodule)
    assert seen and set(seen) == {dtype}
