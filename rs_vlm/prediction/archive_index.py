"""Index an archive (a folder of images, or the windows of a raster) for text and image search.

Embeddings are computed with Lightning's ``Trainer.predict`` so the same call runs on one CPU,
one GPU or many GPUs and nodes (``devices``, ``num_nodes``, ``strategy='ddp'``): each rank
writes its share as shards (``shards/rank<r>-<n>.npz``: item numbers and float32 features)
and rank 0 then builds a FAISS index from them (:mod:`rs_vlm.prediction.vector_index`).
A run that stops part-way is resumed by running it again: items already in a shard are not
encoded twice.

Lightning is imported inside :func:`build_archive_index` only, so importing this module (and
``rs_vlm.prediction``) stays light.

The index is a folder:

* ``manifest.json``: format, model name, checkpoint (absolute) and its SHA-256, width, count,
  index kind and FAISS description, search settings, and the source (``images``: the folder;
  ``raster``: files, CRS as WKT, transform, window, stride, bands). Written last: a folder
  without it is an unfinished build.
* ``index.faiss``: the FAISS index; FAISS id ``i`` is item ``ids[i]``.
* ``ids.npy``: int64 item numbers, one per FAISS id.
* ``paths.txt`` (images, one absolute path a line in item order) or ``windows.npy`` (raster,
  int64 ``[N, 2]`` top row and left column of each window).
"""

import contextlib
import hashlib
import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from rs_vlm.atomic import atomic_path, atomic_write
from rs_vlm.errors import InputError
from rs_vlm.prediction.model import LoadedModel, load_for_prediction
from rs_vlm.prediction.raster_windows import RasterStack, window_offsets
from rs_vlm.prediction.vector_index import (
    DEFAULT_SEARCH_PARAMETERS,
    build_vector_index,
    factory_string,
    resolve_index_type,
    train_size,
)

__all__ = [
    'INDEX_FORMAT',
    'ArchiveIndexInfo',
    'RasterWindowDataset',
    'build_archive_index',
    'checkpoint_sha256',
    'model_identity',
]

#: ``format`` field of ``manifest.json``.
INDEX_FORMAT = 'rs-vlm-archive-index/1'

#: Vectors per shard file and rank.
SHARD_SIZE = 16384


def checkpoint_sha256(checkpoint: str | Path | None) -> str:
    """SHA-256 of a weights file ('' for none): the model identity stored with an index.

    Args:
        checkpoint: The file or None.

    Returns:
        Hex digest, or ''.
    """
    if not checkpoint:
        return ''
    with open(checkpoint, 'rb') as handle:
        return hashlib.file_digest(handle, 'sha256').hexdigest()


def model_identity(model_name: str, checkpoint: str | Path | None) -> dict[str, str]:
    """``{'model', 'checkpoint' (absolute), 'checkpoint_sha256'}`` of a model.

    Args:
        model_name: open_clip model name.
        checkpoint: Weights file or None (random weights).

    Returns:
        The identity.
    """
    return {
        'model': model_name,
        'checkpoint': str(Path(checkpoint).resolve()) if checkpoint else '',
        'checkpoint_sha256': checkpoint_sha256(checkpoint),
    }


class RasterWindowDataset(Dataset[dict[str, Any]]):
    """The windows of a raster grid as ``{'index', 'image'}`` (float ``[3, w, w]`` 0..255).

    The raster is opened lazily in each process (rasterio handles cannot be pickled to
    DataLoader workers).

    Args:
        paths: The raster file(s), stacked as in :class:`RasterStack`.
        bands: 1-based R, G, B bands or None.
        windows: ``[N, 2]`` top row and left column of each window.
        size: Window size.
    """

    def __init__(
        self, paths: Sequence[Path], bands: Sequence[int] | None, windows: np.ndarray, size: int
    ) -> None:
        self.paths, self.bands, self.windows, self.size = list(paths), bands, windows, size
        self._stack: RasterStack | None = None

    def __len__(self) -> int:
        """Number of windows."""
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """One window."""
        from rasterio.windows import Window

        if self._stack is None:
            self._stack = RasterStack(self.paths, self.bands)
        row, col = (int(v) for v in self.windows[index])
        pixels, _ = self._stack.read_display(Window(col, row, self.size, self.size))
        return {'index': index, 'image': torch.from_numpy(pixels)}

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the open raster."""
        return {**self.__dict__, '_stack': None}


@dataclass
class ArchiveIndexInfo:
    """What :func:`build_archive_index` wrote.

    Attributes:
        path: The index folder.
        count: Vectors indexed.
        dim: Their width.
        index_type: The kind built (``'flat'``, ``'ivfsq'``, ``'ivfpq'``, ``'hnsw'``, or a
            description).
        description: The FAISS ``index_factory`` description.
        resumed: Items found in shards of an earlier run (not encoded again).
        skipped: ``(path, reason)`` of unreadable images (``on_error='skip'``).
    """

    path: Path
    count: int
    dim: int
    index_type: str
    description: str
    resumed: int
    skipped: list[tuple[str, str]]


def _image_collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    good = [s for s in samples if 'image' in s]
    return {
        'image': torch.stack([s['image'] for s in good]) if good else None,
        'index': torch.tensor([s['index'] for s in good], dtype=torch.long),
        'errors': [(s['index'], s['error']) for s in samples if 'error' in s],
    }


def _lightning_parts(loaded: LoadedModel, source_kind: str, shard_dir: Path, plan: dict):
    """The LightningModule and prediction writer (defined here: Lightning loads on use only)."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import BasePredictionWriter

    from rs_vlm.prediction.window_encoding import encode_windows, window_preprocess_config

    class ArchiveEmbedder(pl.LightningModule):
        """Encodes a batch of preprocessed images or raw raster windows."""

        def __init__(self) -> None:
            super().__init__()
            self.clip = loaded[0]
            self.window_config = window_preprocess_config(self.clip)

        def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
            if batch['image'] is None:
                features = torch.zeros((0, 0))
            elif source_kind == 'raster':
                features = encode_windows(self.clip, batch['image'], self.window_config)
            else:
                encoded = self.clip.encode_image(batch['image'])
                features = torch.nn.functional.normalize(encoded.float(), dim=-1)
            return {
                'index': batch['index'].cpu(),
                'features': features.cpu(),
                'errors': batch.get('errors', []),
            }

    class ShardWriter(BasePredictionWriter):
        """Writes each rank's features to shard files of up to SHARD_SIZE rows."""

        def __init__(self) -> None:
            super().__init__(write_interval='batch')
            self.buffer: list[dict[str, Any]] = []
            self.rows = 0
            self.errors: list[tuple[int, str]] = []

        def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch,
                               batch_idx, dataloader_idx=0) -> None:  # fmt: skip
            self.errors.extend(prediction['errors'])
            if len(prediction['index']):
                self.buffer.append(prediction)
                self.rows += len(prediction['index'])
            if self.rows >= SHARD_SIZE:
                self.flush(trainer.global_rank)

        def on_predict_end(self, trainer, pl_module) -> None:
            self.flush(trainer.global_rank)

        def flush(self, rank: int) -> None:
            if not self.buffer:
                return
            existing = sorted(shard_dir.glob(f'rank{rank}-*.npz'))
            number = 1 + max((int(p.stem.split('-')[1]) for p in existing), default=-1)
            with atomic_path(shard_dir / f'rank{rank}-{number:06d}.npz') as tmp:
                with open(tmp, 'wb') as handle:
                    np.savez(
                        handle,
                        index=torch.cat([p['index'] for p in self.buffer]).numpy(),
                        features=torch.cat([p['features'] for p in self.buffer]).numpy(),
                    )
            self.buffer, self.rows = [], 0

    return ArchiveEmbedder(), ShardWriter()


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Hide Lightning's start-up banner (device summary, tips) and its own deprecation noise."""
    logger = logging.getLogger('lightning.pytorch')
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='.*LeafSpec.*')
            yield
    finally:
        logger.setLevel(level)


def _read_shards(shard_dir: Path) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for path in sorted(shard_dir.glob('rank*-*.npz')):
        try:
            with np.load(path, allow_pickle=False) as shard:
                yield shard['index'].astype(np.int64), shard['features'].astype(np.float32)
        except (OSError, ValueError, KeyError) as error:
            raise InputError(
                path, f'unreadable shard ({error}); delete it to encode its items again'
            ) from error


def _done_items(shard_dir: Path) -> np.ndarray:
    done = [index for index, _ in _read_shards(shard_dir)]
    return np.unique(np.concatenate(done)) if done else np.zeros(0, dtype=np.int64)


def _prepare_plan(output: Path, plan: dict[str, Any]) -> Path:
    """Create ``output/shards`` with ``plan.json``, or check an earlier run's plan matches."""
    if (output / 'manifest.json').exists():
        raise InputError(
            output,
            'already holds a finished index (manifest.json); choose another --output '
            'or delete the folder',
        )
    shard_dir = output / 'shards'
    plan_file = shard_dir / 'plan.json'
    if plan_file.exists():
        earlier = json.loads(plan_file.read_text(encoding='utf-8'))
        if earlier != plan:
            changed = sorted(k for k in plan if earlier.get(k) != plan[k])
            raise InputError(
                plan_file,
                f'an unfinished index of other inputs is here (differs in '
                f'{", ".join(changed)}); delete {shard_dir} or choose another --output',
            )
    else:
        shard_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(plan_file) as handle:
            json.dump(plan, handle, indent=2)
    return shard_dir


def build_archive_index(
    output: str | Path,
    *,
    images: str | Path | Sequence[str | Path] | None = None,
    raster: str | Path | Sequence[str | Path] | None = None,
    model_name: str = 'ViT-B-32',
    checkpoint: str | Path | None = None,
    window: int = 224,
    stride: int | None = None,
    bands: Sequence[int] | None = None,
    index_type: str = 'auto',
    batch_size: int = 64,
    num_workers: int = 0,
    accelerator: str = 'auto',
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: str = 'auto',
    on_error: str = 'raise',
    progress: bool = False,
    force_quick_gelu: bool = False,
    loaded: LoadedModel | None = None,
) -> ArchiveIndexInfo | None:
    """Embed an image folder or a raster's windows and write a searchable FAISS index folder.

    Args:
        output: The index folder (created; must not hold a finished index).
        images: An image folder (recursive), image files, or both; or give ``raster``.
        raster: A GeoTIFF or single-band files on one grid (stacked in band order).
        model_name: open_clip model name.
        checkpoint: Weights file; random weights when None.
        window: Raster window size in pixels.
        stride: Step between raster windows (``window`` when None: tiles that just touch).
        bands: 1-based R, G, B raster bands (None: Sentinel-2 B04/B03/B02 or the first three).
        index_type: ``'auto'`` (exact below ``EXACT_THRESHOLD`` vectors), ``'flat'``,
            ``'ivfsq'``, ``'ivfpq'``, ``'hnsw'`` or a FAISS factory description.
        batch_size: Items per forward.
        num_workers: DataLoader worker processes.
        accelerator: Lightning accelerator (``'auto'``, ``'cpu'``, ``'gpu'``).
        devices: Devices per node.
        num_nodes: Nodes.
        strategy: Lightning strategy (``'ddp'`` for several devices).
        on_error: An unreadable image: ``'raise'`` or ``'skip'``.
        progress: Show Lightning's progress bar.
        force_quick_gelu: Build the model with QuickGELU.
        loaded: ``(model, preprocess, tokenizer)`` to reuse.

    Returns:
        What was written (None on ranks other than 0).

    Raises:
        ValueError: Both or neither of images and raster; a bad ``on_error``.
        InputError: No images, an unreadable image, a bad raster or band, a window larger
            than the raster, or an unfinished index of other inputs in ``output``.
    """
    if (images is None) == (raster is None):
        raise ValueError('give exactly one of images and raster')
    if on_error not in ('raise', 'skip'):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    output = Path(output)
    identity = model_identity(model_name, checkpoint)
    source: dict[str, Any]
    if images is not None:
        from rs_vlm.prediction.encoding import ImageFileDataset, find_images

        files = [path.resolve() for path in find_images(images)]
        if any('\n' in str(path) for path in files):
            bad = next(path for path in files if '\n' in str(path))
            raise InputError(bad, 'a file name with a line break cannot be indexed')
        source = {'kind': 'images', 'count': len(files)}
        items_hash = hashlib.sha256('\n'.join(map(str, files)).encode()).hexdigest()
    else:
        paths = [Path(raster)] if isinstance(raster, str | Path) else [Path(p) for p in raster]
        stride = stride or window
        with RasterStack(paths, bands) as stack:
            try:
                rows = window_offsets(stack.height, window, stride)
                cols = window_offsets(stack.width, window, stride)
            except ValueError as error:
                raise InputError(
                    paths[0],
                    f'{error}; choose a --window of at most {min(stack.width, stack.height)} px',
                ) from error
            grid = np.array([(r, c) for r in rows for c in cols], dtype=np.int64)
            source = {
                'kind': 'raster',
                'count': len(grid),
                'rasters': [str(p.resolve()) for p in paths],
                'crs': stack.crs.to_wkt() if stack.crs else '',
                'transform': list(stack.transform)[:6],
                'window': window,
                'stride': stride,
                'bands': list(stack.bands),
                'width': stack.width,
                'height': stack.height,
            }
            chosen_bands = stack.bands
        items_hash = hashlib.sha256(grid.tobytes()).hexdigest()
    plan = {**identity, 'source': source['kind'], 'count': source['count'], 'items': items_hash}
    shard_dir = _prepare_plan(output, plan)

    loaded = load_for_prediction(
        model_name, checkpoint, 'cpu', force_quick_gelu=force_quick_gelu, loaded=loaded
    )
    if source['kind'] == 'images':
        dataset: Dataset = ImageFileDataset(files, loaded[1])
    else:
        dataset = RasterWindowDataset(paths, chosen_bands, grid, window)
    done = _done_items(shard_dir)
    remaining = np.setdiff1d(np.arange(len(dataset)), done)

    import lightning.pytorch as pl

    module, writer = _lightning_parts(loaded, source['kind'], shard_dir, plan)
    with _quiet_lightning():
        trainer = pl.Trainer(
            accelerator=accelerator,
            devices=devices,
            num_nodes=num_nodes,
            strategy=strategy,
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=progress,
            callbacks=[writer],
        )
    if len(remaining):
        loader = DataLoader(
            Subset(dataset, remaining.tolist()),
            batch_size=batch_size,
            num_workers=num_workers,
            collate_fn=_image_collate,
        )
        with _quiet_lightning():
            trainer.predict(module, loader, return_predictions=False)
    skipped = [(str(files[i]), reason) for i, reason in writer.errors] if images else []
    if skipped and on_error == 'raise':
        path, reason = skipped[0]
        raise InputError(
            path,
            f'cannot read image ({reason}); use on_error=skip (--on-error skip) to leave '
            'bad files out',
        )
    trainer.strategy.barrier()
    if not trainer.is_global_zero:
        return None
    return _finish_index(
        output,
        shard_dir,
        identity,
        source,
        index_type,
        len(done),
        skipped,
        files if images is not None else None,
        grid if raster is not None else None,
    )


def _finish_index(
    output: Path,
    shard_dir: Path,
    identity: dict[str, str],
    source: dict[str, Any],
    index_type: str,
    resumed: int,
    skipped: list[tuple[str, str]],
    files: list[Path] | None,
    grid: np.ndarray | None,
) -> ArchiveIndexInfo:
    """Build the FAISS index from the shards and write the index folder (manifest last)."""
    import faiss

    ids = np.concatenate([index for index, _ in _read_shards(shard_dir)] or [np.zeros(0, int)])
    if not len(ids):
        raise InputError(output, 'nothing was encoded (every image was unreadable)')
    dim = next(features.shape[1] for _, features in _read_shards(shard_dir))
    count = len(ids)
    kind = resolve_index_type(index_type, count)
    description = factory_string(kind, dim, count)
    sample_size = train_size(description, count)
    training = np.zeros((0, dim), dtype=np.float32)
    if sample_size:
        chosen = np.sort(np.random.default_rng(0).choice(count, sample_size, replace=False))
        parts, offset = [], 0
        for _, features in _read_shards(shard_dir):
            local = chosen[(chosen >= offset) & (chosen < offset + len(features))] - offset
            parts.append(features[local])
            offset += len(features)
        training = np.concatenate(parts)
    index = build_vector_index(
        description, dim, training, (features for _, features in _read_shards(shard_dir))
    )
    with atomic_path(output / 'index.faiss') as tmp:
        faiss.write_index(index, str(tmp))
    with atomic_path(output / 'ids.npy') as tmp, open(tmp, 'wb') as handle:
        np.save(handle, ids)
    if files is not None:
        with atomic_write(output / 'paths.txt') as handle:
            handle.writelines(f'{path}\n' for path in files)
    if grid is not None:
        with atomic_path(output / 'windows.npy') as tmp, open(tmp, 'wb') as handle:
            np.save(handle, grid)
    manifest = {
        'format': INDEX_FORMAT,
        **identity,
        'dim': dim,
        'count': count,
        'index_type': kind,
        'description': description,
        'search_parameters': dict(DEFAULT_SEARCH_PARAMETERS),
        'source': source,
        'skipped': [list(item) for item in skipped],
    }
    with atomic_write(output / 'manifest.json') as handle:
        json.dump(manifest, handle, indent=2)
    return ArchiveIndexInfo(output, count, dim, kind, description, resumed, skipped)
