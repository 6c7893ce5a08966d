"""Throughput of ``rs-vlm prepare`` with 1 and N worker processes, side by side.

Builds a synthetic data root in the release layouts (DOTA label files with 800 x 800 px PNGs,
DIOR VOC XML with JPEGs in ``JPEGImages-trainval``, LoveDA index masks with 1024 x 1024 px
images, and RSICD precomp test images for the near-duplicate check), then runs
:func:`rs_vlm.conversion.prepare_corpora` from scratch once per worker count and prints images
per second, the ratio, and the summary table it wrote.

    python benchmarks/prepare.py --dota 300 --dior 300 --loveda 60 --workers 1 2
"""

import argparse
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import rs_vlm.datasets.benchmark_roots  # noqa: F401  (imported before timing: torch, torchgeo)
from rs_vlm.conversion import prepare_corpora

DOTA_CLASSES = ('plane', 'ship', 'storage-tank', 'small-vehicle', 'large-vehicle', 'harbor')
DIOR_CLASSES = ('airplane', 'ship', 'storagetank', 'vehicle', 'golffield', 'windmill')


def _picture(rng: np.random.Generator, side: int) -> Image.Image:
    # Blocky colour fields: compresses like aerial imagery rather than like white noise.
    small = rng.integers(0, 256, (side // 32, side // 32, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((side, side), Image.Resampling.BILINEAR)


def _boxes(rng: np.random.Generator, side: int, count: int) -> np.ndarray:
    xy = rng.uniform(0, side - 60, (count, 2))
    wh = rng.uniform(8, 60, (count, 2))
    return np.concatenate([xy, xy + wh], axis=1).round()


def build_tree(root: Path, dota: int, dior: int, loveda: int, tests: int, seed: int = 0) -> int:
    """Write the synthetic data root; return the number of training images."""
    rng = np.random.default_rng(seed)
    labels, images = root / 'DOTA/train/labelTxt', root / 'DOTA/train/images'
    labels.mkdir(parents=True)
    images.mkdir(parents=True)
    for i in range(dota):
        _picture(rng, 800).save(images / f'P{i:04d}.png', compress_level=1)
        lines = []
        for x1, y1, x2, y2 in _boxes(rng, 800, int(rng.integers(1, 60))):
            label = DOTA_CLASSES[int(rng.integers(len(DOTA_CLASSES)))]
            lines.append(f'{x1} {y1} {x2} {y1} {x2} {y2} {x1} {y2} {label} 0')
        (labels / f'P{i:04d}.txt').write_text(
            'imagesource:GoogleEarth\ngsd:0.1\n' + '\n'.join(lines)
        )
    xml_dir = root / 'DIOR/Annotations/Horizontal Bounding Boxes'
    jpeg_dir = root / 'DIOR/JPEGImages-trainval'
    xml_dir.mkdir(parents=True)
    jpeg_dir.mkdir(parents=True)
    for i in range(dior):
        name = f'{i + 1:05d}'
        _picture(rng, 800).save(jpeg_dir / f'{name}.jpg', quality=90)
        objects = ''.join(
            f'<object><name>{DIOR_CLASSES[int(rng.integers(len(DIOR_CLASSES)))]}</name>'
            f'<bndbox><xmin>{int(x1)}</xmin><ymin>{int(y1)}</ymin><xmax>{int(x2)}</xmax>'
            f'<ymax>{int(y2)}</ymax></bndbox></object>'
            for x1, y1, x2, y2 in _boxes(rng, 800, int(rng.integers(1, 15)))
        )
        (xml_dir / f'{name}.xml').write_text(
            f'<annotation><filename>{name}.jpg</filename><size><width>800</width>'
            f'<height>800</height><depth>3</depth></size>{objects}</annotation>'
        )
    tile = root / 'LoveDA/Train/Urban'
    (tile / 'masks_png').mkdir(parents=True)
    (tile / 'images_png').mkdir(parents=True)
    for i in range(loveda):
        mask = np.repeat(np.repeat(rng.integers(0, 8, (32, 32), dtype=np.uint8), 32, 0), 32, 1)
        Image.fromarray(mask).save(tile / 'masks_png' / f'{i}.png')
        _picture(rng, 1024).save(tile / 'images_png' / f'{i}.png', compress_level=1)
    rsicd = root / 'RSICD'
    (rsicd / 'images').mkdir(parents=True)
    names = [f'test_{i}.jpg' for i in range(tests)]
    for name in names:
        _picture(rng, 224).save(rsicd / 'images' / name)
    (rsicd / 'test_filename.txt').write_text('\n'.join(names) + '\n')
    (rsicd / 'test_caps.txt').write_text('\n'.join(f'a test picture {n}' for n in names) + '\n')
    # RSICD's train split is listed but not shipped: its images are skipped as not found.
    (rsicd / 'train_filename.txt').write_text('missing.jpg\n')
    (rsicd / 'train_caps.txt').write_text('a picture\n' * 5)
    return dota + dior + loveda


def _cpu_seconds() -> float:
    # CPU time of this process and of its finished children (the pool's workers): on a
    # shared machine wall time shows the load, CPU time the work.
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--dota', type=int, default=300, help='DOTA images (800 px)')
    parser.add_argument('--dior', type=int, default=300, help='DIOR images (800 px)')
    parser.add_argument('--loveda', type=int, default=60, help='LoveDA tiles (1024 px)')
    parser.add_argument('--tests', type=int, default=200, help='benchmark test images')
    parser.add_argument('--workers', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--root', type=Path, help='where to build the tree (default: a temp dir)')
    args = parser.parse_args(argv)
    logging.getLogger('rs_vlm.datasets').setLevel(logging.ERROR)  # absent benchmarks
    base = Path(tempfile.mkdtemp(dir=args.root))
    try:
        start = time.perf_counter()
        images = build_tree(base / 'data', args.dota, args.dior, args.loveda, args.tests)
        print(f'built {images} training images in {time.perf_counter() - start:.1f} s', flush=True)
        rates = {}
        table = ''
        for workers in args.workers:
            output = base / f'corpora-{workers}'
            cpu_before = _cpu_seconds()
            start = time.perf_counter()
            result = prepare_corpora(base / 'data', output, workers=workers, progress=False)
            elapsed = time.perf_counter() - start
            cpu = _cpu_seconds() - cpu_before
            written = sum(r.images for r in result.sources)
            rates[workers] = images / elapsed
            table = result.table
            print(
                f'workers={workers}: {images} images ({written} written) in {elapsed:.1f} s '
                f'= {rates[workers]:.1f} images/s; {cpu:.1f} CPU s '
                f'({images / cpu:.1f} images per CPU second, this process and its workers)',
                flush=True,
            )
        print(f'\nload average {os.getloadavg()}; {os.cpu_count()} cores')
        print('| processes | images/s | vs 1 process |\n|---:|---:|---:|')
        for workers, rate in rates.items():
            print(f'| {workers} | {rate:.1f} | {rate / rates[args.workers[0]]:.2f}x |')
        print('\n' + table)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
