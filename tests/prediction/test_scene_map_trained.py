"""A tiny model trained here tells apart the two halves of a raster of two scene types."""

from pathlib import Path

import pytest
import rasterio
import torch
import torch.nn.functional as F
from raster_helpers import write_raster

from rs_vlm.models import create_clip, load_model
from rs_vlm.prediction.scene_map import map_scene
from rs_vlm.synthetic import SyntheticAerial

CLASSES = ['forest', 'lake']
MEAN = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(1, 3, 1, 1)
STD = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(1, 3, 1, 1)


def _scenes(split: str, count: int) -> dict[str, list[torch.Tensor]]:
    """``count`` 32 px images of each class from a SyntheticAerial split."""
    dataset = SyntheticAerial(split=split, task='scene', image_size=32, length=7 * count)
    chosen = {name: [] for name in CLASSES}
    for index in range(len(dataset)):
        name = dataset.classes[dataset.scene_of(index)]
        if name in chosen:
            chosen[name].append(dataset[index]['image'])
    return chosen


def _train(steps: int = 80) -> torch.nn.Module:
    """Fine-tune both towers of a random rs-vit-tiny on class prompts (cross-entropy)."""
    torch.manual_seed(0)
    model = create_clip('rs-vit-tiny').train()
    train = _scenes('train', 64)
    images = torch.stack(train['forest'] + train['lake'])
    labels = torch.tensor([0] * len(train['forest']) + [1] * len(train['lake']))
    pixels = (images / 255 - MEAN) / STD
    templates = SyntheticAerial.templates
    prompts = model_tokenizer([t.format(name) for name in CLASSES for t in templates])
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        batch = torch.randint(len(images), (32,), generator=generator)
        image_features = F.normalize(model.encode_image(pixels[batch]), dim=-1)
        text = F.normalize(model.encode_text(prompts), dim=-1).view(
            len(CLASSES), len(templates), -1
        )
        classes = F.normalize(text.mean(dim=1), dim=-1)
        loss = F.cross_entropy(20 * image_features @ classes.T, labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def model_tokenizer(texts: list[str]) -> torch.Tensor:
    from open_clip import get_tokenizer

    return get_tokenizer('rs-vit-tiny')(texts)


@pytest.mark.slow
def test_trained_model_maps_the_two_halves(tmp_path: Path) -> None:
    model = _train()
    _, preprocess, tokenizer = load_model('rs-vit-tiny')
    test = _scenes('test', 4)
    # 2 rows x 4 columns of 32 px scenes: forest on the left half, lake on the right half
    rows = [
        torch.cat([test['forest'][2 * r], test['forest'][2 * r + 1],
                   test['lake'][2 * r], test['lake'][2 * r + 1]], dim=2)
        for r in range(2)
    ]  # fmt: skip
    pixels = torch.cat(rows, dim=1).round().clamp(0, 255).to(torch.uint8).numpy()
    raster = write_raster(tmp_path / 'two_halves.tif', pixels)
    result = map_scene(
        raster,
        tmp_path / 'map.tif',
        classes=CLASSES,
        templates=SyntheticAerial.templates,
        model_name='rs-vit-tiny',
        loaded=(model, preprocess, tokenizer),
        window=32,
        stride=16,
        device='cpu',
    )
    with rasterio.open(result.path) as out:
        class_index = out.read(1)
        lake = out.read(3)
    # away from the seam (windows there see both halves): the left is forest, the right lake
    left, right = class_index[:, :48], class_index[:, 80:]
    assert (left == 0).mean() >= 0.9, (left == 0).mean()
    assert (right == 1).mean() >= 0.9, (right == 1).mean()
    assert lake[:, 80:].mean() > 0.8 > 0.2 > lake[:, :48].mean()
