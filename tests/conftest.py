"""Shared test fixtures: the real fixtures in shared/, a quiet trainer, tiny images and corpora.

The image, corpus and HTTP fixtures serve the tests of ``datasets``, ``datamodules``, ``io`` and
the top-level modules alike, so they live here rather than beside one package.
"""

import functools
import http.server
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]


def fixtures_root() -> Path:
    """Where the real remote-sensing fixtures live (``RS_VLM_FIXTURES`` or ../shared/fixtures)."""
    return Path(os.environ.get('RS_VLM_FIXTURES', REPO_ROOT.parent / 'shared' / 'fixtures'))


@pytest.fixture
def real_fixtures() -> Path:
    """The real fixtures folder; skips the test when it is absent."""
    root = fixtures_root()
    if not root.is_dir():
        pytest.skip(f'real fixtures not found at {root} (set RS_VLM_FIXTURES)')
    return root


@pytest.fixture(scope='session')
def quiet_trainer() -> Callable[..., Any]:
    """Make a CPU ``Trainer`` without logger, checkpoints, progress bar or summary.

    Keyword arguments add to or override those settings.
    """
    from lightning.pytorch import Trainer

    def make(**options: Any) -> Trainer:
        settings: dict[str, Any] = {
            'accelerator': 'cpu',
            'logger': False,
            'enable_checkpointing': False,
            'enable_progress_bar': False,
            'enable_model_summary': False,
        }
        return Trainer(**{**settings, **options})

    return make


def pytest_configure(config: pytest.Config) -> None:
    """One intra-op thread per test process.

    The tests use tiny tensors, where thread start-up costs more than it saves, and CI runs two
    test processes on two cores (pytest-xdist): more threads would only oversubscribe them.
    """
    import torch

    torch.set_num_threads(1)
    # Subprocesses the tests start (``python -m rs_vlm ...``, spawned ranks) inherit this.
    os.environ.setdefault('OMP_NUM_THREADS', '1')



def write_image(
    path: Path, size: tuple[int, int] = (40, 30), seed: int = 0, fmt: str = 'JPEG'
) -> Path:
    """Write a random RGB image (width, height) and return its path."""
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt)
    return path


@pytest.fixture
def caption_csv(tmp_path: Path) -> Path:
    """A comma CSV with 6 images (2 of them with two captions each) under images/."""
    rows = ['filepath,title']
    for index in range(6):
        write_image(tmp_path / 'images' / f'img{index}.jpg', seed=index)
        rows.append(f'images/img{index}.jpg,a photo number {index}')
    rows.append('images/img0.jpg,"second caption, with a comma"')
    rows.append('images/img1.jpg,another caption of one')
    path = tmp_path / 'train.csv'
    path.write_text('\n'.join(rows) + '\n')
    return path


@pytest.fixture
def make_image() -> Callable[..., Path]:
    """The :func:`write_image` helper, as a fixture."""
    return write_image


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A loopback HTTP server over a temporary folder: yields (folder, base URL)."""
    folder = tmp_path / 'served'
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass
