"""Make the worked example of ``docs/mapping.md``: train a tiny model, map real rasters, search.

Runs the ``rs-vlm predict map|index|search`` commands on the real georeferenced rasters of the
shared fixtures (read in place, never copied) and draws ``docs/images/mapping_*.png``:

1. fine-tunes a random ``rs-vit-tiny`` for a few CPU seconds on SyntheticAerial's seven scene
   classes (class-prompt cross-entropy, both towers) and saves it under ``outputs/mapping-docs``;
2. maps the NEON aerial RGB ``deepforest/OSBS_029.tif`` and a BigEarthNet Sentinel-2 patch
   (its B04, B03, B02 GeoTIFFs stacked) into class maps and ``"a forest"`` heatmaps;
3. indexes the NEON raster's windows and searches them, writing GeoJSON footprints.

    python docs/scripts/mapping_figures.py [--fixtures ../shared/fixtures]
"""

import argparse
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np
import rasterio
import torch
import torch.nn.functional as F
from matplotlib.patches import Patch

from rs_vlm.cli import main as rs_vlm
from rs_vlm.models import create_clip
from rs_vlm.prediction.raster_windows import RasterStack
from rs_vlm.synthetic import SyntheticAerial

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / 'outputs' / 'mapping-docs'
IMAGES = ROOT / 'docs' / 'images'
MEAN = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(1, 3, 1, 1)
STD = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(1, 3, 1, 1)


def train_tiny(steps: int = 150) -> Path:
    """Fine-tune rs-vit-tiny on SyntheticAerial's class prompts; save its state_dict."""
    from open_clip import get_tokenizer

    torch.manual_seed(0)
    model = create_clip('rs-vit-tiny').train()
    dataset = SyntheticAerial(split='train', task='scene', image_size=32, length=700)
    samples = [dataset[i] for i in range(len(dataset))]
    pixels = (torch.stack([s['image'] for s in samples]) / 255 - MEAN) / STD
    labels = torch.tensor([int(s['label']) for s in samples])
    classes, templates = dataset.classes, dataset.templates
    prompts = get_tokenizer('rs-vit-tiny')([t.format(c) for c in classes for t in templates])
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        batch = torch.randint(len(pixels), (64,), generator=generator)
        images = F.normalize(model.encode_image(pixels[batch]), dim=-1)
        text = F.normalize(model.encode_text(prompts), dim=-1)
        weights = F.normalize(text.view(len(classes), len(templates), -1).mean(1), dim=-1)
        loss = F.cross_entropy(20 * images @ weights.T, labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = OUT / 'tiny-synthetic-aerial.pt'
    torch.save(model.eval().state_dict(), path)
    print(f'trained rs-vit-tiny for {steps} steps (final loss {loss.item():.3f}); wrote {path}')
    return path


def run(*argv: str) -> None:
    """Run an rs-vlm command in this process, echoing it."""
    print('$ rs-vlm ' + ' '.join(argv))
    code = rs_vlm(list(argv))
    if code:
        raise SystemExit(f'rs-vlm exited with {code}')


def figure(rasters: list[Path], class_map: Path, heatmap: Path, title: str, output: Path) -> None:
    """Input RGB (as the model saw it), class map with legend, query heatmap."""
    with RasterStack(rasters) as stack:
        rgb, _ = stack.read_display()
    with rasterio.open(class_map) as src:
        index = src.read(1)
        classes = json.loads(src.tags()['classes'])
    with rasterio.open(heatmap) as src:
        heat = src.read(1)
        query = src.tags()['query']
    colours = plt.get_cmap('tab10')(np.arange(len(classes)))
    coloured = np.ones((*index.shape, 4))
    valid = ~np.isnan(index)
    coloured[valid] = colours[index[valid].astype(int)]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6), constrained_layout=True)
    axes[0].imshow(rgb.transpose(1, 2, 0).astype(np.uint8))
    axes[0].set_title('input (bands as the model sees them)')
    axes[1].imshow(coloured, interpolation='nearest')
    axes[1].set_title('zero-shot class map')
    present = sorted(set(index[valid].astype(int).tolist()))
    axes[1].legend(
        handles=[Patch(color=colours[i], label=classes[i]) for i in present],
        loc='lower left', fontsize=8, framealpha=0.8,
    )  # fmt: skip
    shown = axes[2].imshow(heat, cmap='magma')
    axes[2].set_title(f'similarity to "{query}"')
    fig.colorbar(shown, ax=axes[2], shrink=0.8)
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    fig.suptitle(title)
    fig.savefig(output, dpi=80)
    plt.close(fig)
    print(f'wrote {output}')


def main() -> None:
    """Train, map, index, search, draw."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--fixtures',
        default=os.environ.get('RS_VLM_FIXTURES', str(ROOT.parent / 'shared' / 'fixtures')),
    )
    args = parser.parse_args()
    fixtures = Path(args.fixtures)
    OUT.mkdir(parents=True, exist_ok=True)
    IMAGES.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    weights = train_tiny()
    model = ['--model', 'rs-vit-tiny', '--checkpoint', str(weights), '--device', 'cpu']
    classes = ','.join(SyntheticAerial.classes)

    neon = fixtures / 'deepforest' / 'OSBS_029.tif'
    patch = (
        fixtures
        / 'bigearthnet_common'
        / 'BigEarthNet-S2-Example'
        / 'S2A_MSIL2A_20170613T101031_87_48'
    )
    s2 = [patch / f'{patch.name}_{band}.tif' for band in ('B04', 'B03', 'B02')]
    for name, rasters, window, stride in (('neon', [neon], 64, 32), ('bigearthnet', s2, 32, 8)):
        common = [*model, '--raster', *map(str, rasters), '--window', str(window),
                  '--stride', str(stride), '--no-progress']  # fmt: skip
        run('predict', 'map', *common, '--classes', classes,
            '--output', str(OUT / f'{name}_map.tif'))  # fmt: skip
        run('predict', 'map', *common, '--query', 'a forest',
            '--output', str(OUT / f'{name}_forest.tif'))  # fmt: skip
    figure([neon], OUT / 'neon_map.tif', OUT / 'neon_forest.tif',
           'NEON OSBS_029 (0.1 m RGB, 400 x 400 px), windows 64 px, stride 32',
           IMAGES / 'mapping_neon.png')  # fmt: skip
    figure(s2, OUT / 'bigearthnet_map.tif', OUT / 'bigearthnet_forest.tif',
           'BigEarthNet S2 patch 87_48 (10 m, B04/B03/B02, 120 x 120 px), windows 32 px, stride 8',
           IMAGES / 'mapping_bigearthnet.png')  # fmt: skip

    index = OUT / 'neon_index'
    if index.exists():
        import shutil

        shutil.rmtree(index)
    run('predict', 'index', *model, '--raster', str(neon), '--window', '64', '--stride', '32',
        '--no-progress', '--num-workers', '0', '--output', str(index))  # fmt: skip
    run('predict', 'search', '--index', str(index), '--query', 'a forest', '--k', '5',
        '--geojson', str(OUT / 'forest_hits.geojson'))  # fmt: skip


if __name__ == '__main__':
    main()
