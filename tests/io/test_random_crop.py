"""The training crop covers the whole image: every pixel column of a 16:9 frame is reachable."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import RandomResizedCrop as TorchvisionRandomResizedCrop

from rs_vlm.datamodules import CaptionDataModule
from rs_vlm.io.decoding import load_image
from rs_vlm.io.random_crop import RandomResizedCropBox

WIDTH, HEIGHT = 160, 90  # 16:9, like a UAV video frame


def _columns(boxes: list[tuple[int, int, int, int]]) -> set[int]:
    return {column for left, _, width, _ in boxes for column in range(left, left + width)}


def test_boxes_reach_every_column_of_a_wide_frame() -> None:
    sampler = RandomResizedCropBox()  # open_clip's scale (0.9, 1.0) and ratio (3/4, 4/3)
    rng = np.random.default_rng(0)
    boxes = [sampler(WIDTH, HEIGHT, rng) for _ in range(300)]
    assert _columns(boxes) == set(range(WIDTH))
    for left, top, width, height in boxes:
        assert 0 <= left and left + width <= WIDTH and 0 <= top and top + height <= HEIGHT
        assert 3 / 4 - 0.02 <= width / height <= 4 / 3 + 0.02  # within the allowed ratios
    # torchvision's crop (open_clip's), the reference: only the centre 75% of the width
    reference = TorchvisionRandomResizedCrop(224, scale=(0.9, 1.0))
    torch.manual_seed(0)
    image = torch.zeros(3, HEIGHT, WIDTH)
    seen = [reference.get_params(image, reference.scale, reference.ratio) for _ in range(300)]
    torchvision_columns = _columns([(left, top, w, h) for top, left, h, w in seen])
    assert torchvision_columns == set(range(20, 140))  # 120 of 160 columns


def test_boxes_that_fit_are_drawn_inside_the_scale_range() -> None:
    sampler = RandomResizedCropBox(scale=(0.3, 0.5))
    rng = np.random.default_rng(1)
    for _ in range(200):
        _, _, width, height = sampler(100, 100, rng)
        assert 0.3 * 10_000 * 0.95 <= width * height <= 0.5 * 10_000 * 1.05
    with pytest.raises(ValueError, match='scale'):
        RandomResizedCropBox(scale=(0.0, 1.0))


def test_training_corpus_crops_the_whole_frame(tmp_path: Path) -> None:
    # a 16:9 PNG whose every column has its own red value: the decoded crop shows which
    # columns it came from
    pixels = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    pixels[..., 0] = np.arange(WIDTH, dtype=np.uint8)[None, :]
    pixels[..., 1] = 128
    (tmp_path / 'images').mkdir()
    Image.fromarray(pixels).save(tmp_path / 'images' / 'frame.png')
    (tmp_path / 'train.csv').write_text('filepath,title\nimages/frame.png,a frame\n')
    datamodule = CaptionDataModule(train_csv=tmp_path / 'train.csv', image_size=16)
    corpus = datamodule.make_dataset('train')
    boxes = []
    for epoch in range(300):
        sample = corpus[(0, epoch)]
        box = corpus.crop_sampler(0, epoch)(WIDTH, HEIGHT)  # the same draw, replayed
        boxes.append(box)
        image = sample['image']
        assert image.shape == (3, 16, 16) and image.dtype == torch.uint8
        if epoch < 5:
            # independent reference: PIL crop of the box, then the resize
            left, top, width, height = box
            expected = (
                Image.fromarray(pixels)
                .crop((left, top, left + width, top + height))
                .resize((16, 16), Image.Resampling.BILINEAR)
            )
            reference = torch.from_numpy(np.array(expected)).permute(2, 0, 1)
            assert (image.int() - reference.int()).abs().max() <= 1
    assert _columns(boxes) == set(range(WIDTH))
    # in the decoded samples too: red values of both edge columns of the frame show up
    seen_reds: set[int] = set()
    for epoch in range(300):
        seen_reds |= set(corpus[(0, epoch)]['image'][0, :, [0, -1]].flatten().tolist())
    assert min(seen_reds) <= 5 and max(seen_reds) >= WIDTH - 6
    # the old pipeline (centre square at load) never shows the sides
    square = load_image(tmp_path / 'images' / 'frame.png', 16)[0]
    assert square.min() >= 30 and square.max() <= 130


def test_crop_on_a_large_jpeg_uses_draft_decoding_and_matches(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    coarse = rng.integers(0, 256, (9, 16, 3), dtype=np.uint8)
    big = Image.fromarray(coarse).resize((1600, 900), Image.Resampling.BICUBIC)
    big.save(tmp_path / 'big.jpg', quality=95)
    box = (700, 50, 800, 800)
    image = load_image(tmp_path / 'big.jpg', 64, crop=lambda width, height: box)
    assert image.shape == (3, 64, 64)
    full = np.asarray(Image.open(tmp_path / 'big.jpg').convert('RGB'))
    region = Image.fromarray(full[50:850, 700:1500]).resize((64, 64), Image.Resampling.BILINEAR)
    reference = torch.from_numpy(np.array(region)).permute(2, 0, 1).float()
    assert (image - reference).abs().mean() < 4  # DCT-domain reduced decode vs full decode
    with pytest.raises(ValueError, match='needs the output size'):
        load_image(tmp_path / 'big.jpg', crop=lambda width, height: box)
