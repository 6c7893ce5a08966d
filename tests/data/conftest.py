"""Helpers for the data tests: tiny image folders and corpora made on the fly."""

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


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
