"""Scene maps: ``map_scene`` vs a naive per-window loop, window reading vs torchgeo, peak memory.

Side by side in one run, on rasters the script writes (smooth colour ramps plus noise):

1. Throughput (windows/s) of ``map_scene`` (strip reads, batched forwards, blended rows written
   as they finish) against the loop a user writes first: read each window with rasterio,
   preprocess it with open_clip's PIL transform, encode it alone, add its probabilities to a
   full-size array, write the GeoTIFF at the end. The ratio is printed.
2. Reading the same windows with torchgeo's ``RasterDataset`` + ``GridGeoSampler`` against our
   strip reads (why the maps read through rasterio windows).
3. Peak resident memory of ``rs-vlm predict map`` on a ``--big`` x ``--big`` pixel raster
   (default 20,000), run as a child process and measured by ``getrusage``, against what the
   naive loop would need to hold (the raster and a full-size probability array).

    python benchmarks/mapping.py                       # all three, rs-vit-tiny on CPU
    python benchmarks/mapping.py --skip-big            # 1 and 2 only
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
import torch
import torch.nn.functional as F
from PIL import Image
from rasterio.windows import Window

from rs_vlm.datasets.scene_classes import DEFAULT_TEMPLATES
from rs_vlm.models import load_model
from rs_vlm.prediction.raster_windows import RasterStack, window_offsets
from rs_vlm.prediction.scene_map import map_scene

CLASSES = ['forest', 'river', 'farmland', 'residential area']


def write_scene(path: Path, size: int, rows_per_write: int = 1024) -> Path:
    """A tiled, DEFLATE-compressed 8-bit RGB GeoTIFF of ``size`` x ``size``, written in strips."""
    profile = {
        'driver': 'GTiff',
        'width': size,
        'height': size,
        'count': 3,
        'dtype': 'uint8',
        'crs': 'EPSG:32617',
        'transform': rasterio.Affine(0.5, 0, 400000, 0, -0.5, 3290000),
        'tiled': True,
        'blockxsize': 512,
        'blockysize': 512,
        'compress': 'deflate',
        'BIGTIFF': 'IF_SAFER',
    }
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 24, (3, rows_per_write, size), dtype=np.uint8)
    cols = np.arange(size)
    with rasterio.open(path, 'w', **profile) as dst:
        for top in range(0, size, rows_per_write):
            rows = np.arange(top, min(size, top + rows_per_write))[:, None]
            base = np.stack([
                (rows * 7 // 97 + cols * 3 // 89) % 200,
                (rows // 13 + cols // 17) % 180,
                (rows * cols // 4099) % 190,
            ]).astype(np.uint8)  # fmt: skip
            block = base + noise[:, : len(rows)]
            dst.write(block, window=Window(0, top, size, len(rows)))
    return path


def naive_loop(loaded: tuple, raster: Path, output: Path, window: int, stride: int) -> int:
    """The first loop a user writes: one window at a time, everything in a full-size array."""
    model, preprocess, tokenizer = loaded
    with torch.no_grad():
        prompts = [t.format(name) for name in CLASSES for t in DEFAULT_TEMPLATES]
        # ITRA's class embeddings (mean of the raw prompt embeddings), as map_scene
        text = model.encode_text(tokenizer(prompts))
        weights = F.normalize(text.view(len(CLASSES), len(DEFAULT_TEMPLATES), -1).mean(1), dim=-1)
    with rasterio.open(raster) as src:
        height, width, profile = src.height, src.width, src.profile
        sums = np.zeros((len(CLASSES), height, width), dtype=np.float32)
        counts = np.zeros((height, width), dtype=np.float32)
        windows = 0
        for row in window_offsets(height, window, stride):
            for col in window_offsets(width, window, stride):
                pixels = src.read((1, 2, 3), window=Window(col, row, window, window))
                image = preprocess(Image.fromarray(pixels.transpose(1, 2, 0)))[None]
                with torch.no_grad():
                    features = F.normalize(model.encode_image(image), dim=-1)
                probabilities = (100 * features @ weights.T).softmax(-1)[0].numpy()
                sums[:, row : row + window, col : col + window] += probabilities[:, None, None]
                counts[row : row + window, col : col + window] += 1
                windows += 1
    profile.update(count=len(CLASSES), dtype='float32', nodata=None)
    with rasterio.open(output, 'w', **profile) as dst:
        dst.write(sums / counts)
    return windows


def torchgeo_read(raster: Path, window: int, stride: int) -> tuple[int, float]:
    """Read every window through torchgeo's RasterDataset + GridGeoSampler."""
    from torch.utils.data import DataLoader
    from torchgeo.datasets import RasterDataset, stack_samples
    from torchgeo.samplers import GridGeoSampler

    class Scene(RasterDataset):
        filename_glob = raster.name

    dataset = Scene(paths=str(raster.parent))
    sampler = GridGeoSampler(dataset, size=window, stride=stride)
    loader = DataLoader(dataset, sampler=sampler, batch_size=64, collate_fn=stack_samples)
    start = time.perf_counter()
    count = sum(len(batch['image']) for batch in loader)
    return count, time.perf_counter() - start


def strip_read(raster: Path, window: int, stride: int) -> tuple[int, float]:
    """Read every window as :func:`map_scene` does: one strip of windows at a time."""
    start = time.perf_counter()
    count = 0
    with RasterStack(raster) as stack:
        rows = window_offsets(stack.height, window, stride)
        cols = window_offsets(stack.width, window, stride)
        for strip in stack.strips(window, rows):
            crops = [strip.pixels[:, :, c : c + window] for c in cols]
            count += len(np.stack(crops))
    return count, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='rs-vit-tiny')
    parser.add_argument('--size', type=int, default=768, help='raster side for 1 and 2')
    parser.add_argument('--window', type=int, default=64)
    parser.add_argument('--stride', type=int, default=32)
    parser.add_argument('--big', type=int, default=20000, help='raster side for 3')
    parser.add_argument('--big-window', type=int, default=224)
    parser.add_argument('--big-stride', type=int, default=224)
    parser.add_argument('--skip-big', action='store_true')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--big-raster', help='reuse this big raster instead of writing one')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f'load average before: {os.getloadavg()}; torch threads {args.threads}')
    with tempfile.TemporaryDirectory(dir='.') as folder:
        folder = Path(folder)
        raster = write_scene(folder / 'scene.tif', args.size)
        torch.manual_seed(0)
        loaded = load_model(args.model)
        windows = len(window_offsets(args.size, args.window, args.stride)) ** 2
        with torch.no_grad():  # warm-up, so neither side pays for first-call set-up
            loaded[0].encode_image(torch.zeros(4, 3, *loaded[0].visual.image_size))

        start = time.perf_counter()
        naive_loop(loaded, raster, folder / 'naive.tif', args.window, args.stride)
        naive = time.perf_counter() - start
        start = time.perf_counter()
        map_scene(
            raster, folder / 'map.tif', classes=CLASSES, model_name=args.model, loaded=loaded,
            window=args.window, stride=args.stride, batch_size=128, device='cpu',
        )  # fmt: skip
        ours = time.perf_counter() - start
        with rasterio.open(folder / 'naive.tif') as a, rasterio.open(folder / 'map.tif') as b:
            agree = (a.read().argmax(0) == b.read()[1:].argmax(0)).mean()
        print(f'\n1. map {args.size}x{args.size} px, {windows} windows of {args.window} px '
              f'(stride {args.stride}), {args.model}, CPU')  # fmt: skip
        print(f'   naive per-window loop : {naive:7.2f} s  {windows / naive:8.1f} windows/s')
        print(f'   map_scene (COG)       : {ours:7.2f} s  {windows / ours:8.1f} windows/s')
        print(
            f'   speed-up              : {naive / ours:.2f}x  (class agreement {agree:.1%}: '
            'the naive loop averages overlaps uniformly, map_scene with tent weights)'
        )

        count_tg, tg = torchgeo_read(raster, args.window, args.stride)
        count_ours, strip = strip_read(raster, args.window, args.stride)
        print(f'\n2. reading the {windows} windows (no model)')
        print(f'   torchgeo RasterDataset + GridGeoSampler : {tg:6.2f} s ({count_tg} windows)')
        print(f'   rasterio strips (map_scene)             : {strip:6.2f} s ({count_ours} windows)')
        print(f'   ratio                                   : {tg / strip:.1f}x')

        if args.skip_big:
            return
        if args.big_raster:
            big = Path(args.big_raster)
        else:
            big = folder / 'big.tif'
            start = time.perf_counter()
            write_scene(big, args.big)
            print(f'\n3. wrote a {args.big}x{args.big} RGB raster in '
                  f'{time.perf_counter() - start:.0f} s')  # fmt: skip
        with rasterio.open(big) as src:
            side = src.width
        print(f'\n3. {big.name}: {side}x{side} px RGB, {big.stat().st_size / 2**20:.0f} MiB '
              f'compressed, {3 * side**2 / 2**30:.2f} GiB decoded')  # fmt: skip
        # the real command in a child process; its peak RSS from getrusage(RUSAGE_CHILDREN)
        command = [
            sys.executable, '-m', 'rs_vlm', 'predict', 'map', '--model', args.model,
            '--raster', str(big), '--classes', 'forest,river', '--window', str(args.big_window),
            '--stride', str(args.big_stride), '--batch-size', '64', '--device', 'cpu',
            '--no-progress', '--output', str(folder / 'big_map.tif'),
        ]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(
            command, check=True, env={**os.environ, 'OMP_NUM_THREADS': str(args.threads)}
        )
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        windows = len(window_offsets(side, args.big_window, args.big_stride)) ** 2
        size = (folder / 'big_map.tif').stat().st_size / 2**20
        print(f'   rs-vlm predict map, {windows} windows of {args.big_window} px (stride '
              f'{args.big_stride}), 2 classes: {seconds:.0f} s, peak RSS {peak:.0f} MiB, '
              f'COG {size:.0f} MiB')  # fmt: skip
        naive_bytes = 3 * side**2 + 2 * 4 * side**2 + 4 * side**2
        print(
            f'   the naive loop would hold the raster + a 2-class float32 sum + counts: '
            f'{naive_bytes / 2**30:.2f} GiB before the model'
        )
    print(f'\nload average after: {os.getloadavg()}')


if __name__ == '__main__':
    main()
