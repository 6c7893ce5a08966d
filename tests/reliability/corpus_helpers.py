"""Tiny caption corpora and ``rs-vlm fit`` configs written by the reliability tests."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

HERE = Path(__file__).resolve().parent
OBJECTS = ['plane', 'ship', 'storage tank', 'bridge', 'house', 'tree', 'road', 'river']


def write_caption_corpus(folder: Path, count: int, size: int = 36, seed: int = 0) -> Path:
    """Write ``count`` random JPEGs with two captions each and an open_clip CSV listing them.

    Args:
        folder: Output folder.
        count: Number of images.
        size: Image side in pixels.
        seed: Seed of the pixels and captions.

    Returns:
        The CSV path.
    """
    rng = np.random.default_rng(seed)
    images = folder / 'images'
    images.mkdir(parents=True, exist_ok=True)
    lines = ['filepath,title']
    for index in range(count):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        name = f'images/img_{index:03d}.jpg'
        Image.fromarray(pixels).save(folder / name, quality=90)
        for caption in range(2):
            noun = OBJECTS[(index + caption) % len(OBJECTS)]
            lines.append(f'{name},{index % 7 + 1} {noun}s seen from above (view {caption})')
    csv_path = folder / 'train.csv'
    csv_path.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    return csv_path


def fit_config(
    run_dir: Path,
    csv_path: Path,
    *,
    num_workers: int = 0,
    batch_size: int = 6,
    max_epochs: int = 2,
    every_n_steps: int = 4,
    callbacks: list[dict] | None = None,
    model_args: dict | None = None,
    data_args: dict | None = None,
) -> Path:
    """Write an ``rs-vlm fit`` YAML config for ``rs-vit-tiny`` on the CPU, deterministic.

    Returns:
        The config path.
    """
    config = {
        'seed_everything': 0,
        'trainer': {
            'accelerator': 'cpu',
            'devices': 1,
            'max_epochs': max_epochs,
            'deterministic': True,
            'logger': False,
            'enable_progress_bar': False,
            'enable_model_summary': False,
            'num_sanity_val_steps': 0,
            'default_root_dir': str(run_dir),
            'callbacks': [
                {
                    'class_path': 'lightning.pytorch.callbacks.ModelCheckpoint',
                    'init_args': {
                        'dirpath': str(run_dir / 'checkpoints'),
                        'every_n_train_steps': every_n_steps,
                        'save_last': True,
                        'save_top_k': 0,
                    },
                },
                *(callbacks or []),
            ],
        },
        'model': {
            'class_path': 'rs_vlm.modules.RemoteCLIPModule',
            'init_args': {
                'model_name': 'rs-vit-tiny',
                'lr': 1e-3,
                'warmup_steps': 3,
                **(model_args or {}),
            },
        },
        'data': {
            'class_path': 'rs_vlm.datamodules.CaptionDataModule',
            'init_args': {
                'train_csv': str(csv_path),
                'image_size': 32,
                'batch_size': batch_size,
                'num_workers': num_workers,
                'tokenizer': 'rs-vit-tiny',
                **(data_args or {}),
            },
        },
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / 'config.in.yaml'
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding='utf-8')
    return path


def run_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run ``python -m rs_vlm ARGS`` with this folder importable (for the test callbacks)."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(HERE), env.get('PYTHONPATH', '')])
    # Same intra-op thread count as the test process, so float reductions match bit for bit.
    env['OMP_NUM_THREADS'] = str(torch.get_num_threads())
    return subprocess.run(
        [sys.executable, '-m', 'rs_vlm', *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=HERE.parents[1],
    )


def popen_cli(*args: str) -> subprocess.Popen:
    """Start ``python -m rs_vlm ARGS`` in the background (see :func:`run_cli`)."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(HERE), env.get('PYTHONPATH', '')])
    # Same intra-op thread count as the test process, so float reductions match bit for bit.
    env['OMP_NUM_THREADS'] = str(torch.get_num_threads())
    return subprocess.Popen(
        [sys.executable, '-m', 'rs_vlm', *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=HERE.parents[1],
    )
