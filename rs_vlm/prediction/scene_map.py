"""Zero-shot maps of whole georeferenced scenes: sliding windows, blended, written as a COG.

:func:`map_scene` slides a ``window`` x ``window`` pixel window over a raster every ``stride``
pixels (plus one flush with each edge, so every pixel is covered), encodes the windows in
batches on the device and scores them against class prompts (zero-shot, the probabilities of
:func:`rs_vlm.prediction.classify_images`) or one text query (cosine similarity). Each window's
scores are spread over its pixels with a tent weight (highest in the window centre) and the
weighted scores of overlapping windows are averaged, so probabilities still sum to 1 and the map
has no block edges.

Memory is bounded whatever the raster size: the raster is read one strip of windows at a time
(:class:`~rs_vlm.prediction.raster_windows.RasterStack`) and the blended rows are written as
soon as no later window can touch them, so only ``window`` rows of scores are held.

Output: a Cloud Optimized GeoTIFF (float32, DEFLATE, internal overviews) with the input's CRS
and transform. With classes: band 1 the class index (0-based, as a float), bands 2.. one
probability per class (band descriptions ``class`` and ``p(<name>)``, class names also in the
``classes`` tag). With a query: band 1 the cosine similarity. NaN (the nodata value) wherever
any chosen input band is nodata.
"""

import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
import torch
from rasterio.windows import Window
from tqdm.auto import tqdm

from rs_vlm.errors import InputError
from rs_vlm.prediction.model import LoadedModel, load_for_prediction
from rs_vlm.prediction.raster_windows import RasterStack, WindowStrip, window_offsets
from rs_vlm.prediction.window_encoding import encode_windows, window_preprocess_config

__all__ = [
    'LOGIT_SCALE',
    'RASTER_SUFFIXES',
    'SceneMap',
    'map_scene',
    'tent_weights',
]

#: Logit scale of the class softmax (as ``classify_images``).
LOGIT_SCALE = 100.0

#: Output file suffixes.
RASTER_SUFFIXES = ('.tif', '.tiff')

#: GDAL block cache while writing (bytes): bounds memory on wide rasters.
_GDAL_CACHE_BYTES = 128 * 1024 * 1024


@dataclass
class SceneMap:
    """What :func:`map_scene` wrote.

    Attributes:
        path: The COG.
        band_names: Description of each band (``class``, ``p(forest)``... or ``similarity``).
        windows: Number of windows on the grid.
        encoded: Windows that were encoded (the others held only nodata).
        width: Raster width in pixels.
        height: Raster height in pixels.
        crs: The CRS as WKT ('' when the input has none: the map is in pixel space).
    """

    path: Path
    band_names: list[str]
    windows: int
    encoded: int
    width: int
    height: int
    crs: str


def tent_weights(window: int) -> np.ndarray:
    """``[window, window]`` blending weights: 1 at the centre falling linearly to ~0 at the edges.

    Every weight is positive, so pixels at the raster border (seen only by window edges) still
    get a value.

    Args:
        window: Window size.

    Returns:
        float32 weights.
    """
    index = np.arange(window, dtype=np.float32)
    ramp = (np.minimum(index, window - 1 - index) + 1) / ((window + 1) / 2)
    return np.outer(ramp, ramp).astype(np.float32)


class _RowBlender:
    """Weighted sums of window scores over ``window`` rows, written out as rows are finished."""

    def __init__(
        self, dst: rasterio.io.DatasetWriter, width: int, window: int, channels: int, kind: str
    ):
        self.dst, self.width, self.window, self.kind = dst, width, window, kind
        self.sums = np.zeros((channels, window, width), dtype=np.float32)
        self.weight = np.zeros((window, width), dtype=np.float32)
        self.valid = np.zeros((window, width), dtype=bool)
        self.tent = tent_weights(window)
        self.top = 0

    def advance_to(self, row: int) -> None:
        """Write rows ``[top, row)`` (no later window reaches them) and shift the buffers."""
        done = row - self.top
        if done <= 0:
            return
        self._write(done)
        for buffer in (self.sums[:, :], self.weight, self.valid):
            buffer[..., : self.window - done, :] = buffer[..., done:, :]
            buffer[..., self.window - done :, :] = 0
        self.top = row

    def finish(self, height: int) -> None:
        """Write the remaining rows."""
        self._write(height - self.top)

    def add(self, strip: WindowStrip, columns: Sequence[int], scores: Sequence[np.ndarray | None]):
        """Add the scores of one strip's windows (None for windows with no valid pixel)."""
        self.advance_to(strip.row)
        self.valid |= strip.valid
        for column, score in zip(columns, scores, strict=True):
            if score is None:
                continue
            span = slice(column, column + self.window)
            self.sums[:, :, span] += score[:, None, None] * self.tent
            self.weight[:, span] += self.tent

    def _write(self, rows: int) -> None:
        weight = self.weight[:rows]
        covered = self.valid[:rows] & (weight > 0)
        blended = self.sums[:, :rows] / np.where(covered, weight, 1)
        if self.kind == 'classes':
            index = blended.argmax(axis=0).astype(np.float32)
            out = np.concatenate([index[None], blended])
        else:
            out = blended
        out[:, ~covered] = np.nan
        self.dst.write(out, window=Window(0, self.top, self.width, rows))


def _check_output(output: Path, inputs: Sequence[Path]) -> None:
    if output.suffix.lower() not in RASTER_SUFFIXES:
        raise ValueError(f'--output {output}: expected a .tif or .tiff file name')
    resolved = output.resolve()
    for path in inputs:
        if path.resolve() == resolved:
            raise ValueError(f'--output {output} is the input raster; choose another file name')
    if not output.parent.resolve().is_dir():
        raise InputError(output.parent, 'output folder does not exist')


def _text_targets(
    loaded: LoadedModel,
    classes: Sequence[str] | None,
    query: str | None,
    templates: Sequence[str] | str | Path | None,
) -> tuple[torch.Tensor, list[str]]:
    from rs_vlm.evaluation.encoding import Encoder
    from rs_vlm.evaluation.zero_shot import build_zero_shot_classifier
    from rs_vlm.prediction.encoding import encode_texts
    from rs_vlm.prediction.inputs import check_class_names, read_templates

    model, preprocess, tokenizer = loaded
    if query is not None:
        if not query.strip():
            raise ValueError('--query is empty')
        return encode_texts(model, tokenizer, [query]), ['similarity']
    names = check_class_names(list(classes or []))
    if templates is None or isinstance(templates, str | Path):
        prompts = read_templates(templates)
    else:
        prompts = list(templates)
    # ITRA's class embeddings, as rs-vlm predict classify and the zero-shot benchmark
    raw_texts = Encoder(model, preprocess, tokenizer).texts
    classifier = build_zero_shot_classifier(
        lambda texts: raw_texts(texts, normalize=False), names, prompts
    )
    return classifier, ['class', *(f'p({name})' for name in names)]


def map_scene(
    raster: str | Path | Sequence[str | Path],
    output: str | Path,
    *,
    classes: Sequence[str] | None = None,
    query: str | None = None,
    templates: Sequence[str] | str | Path | None = None,
    model_name: str = 'ViT-B-32',
    checkpoint: str | Path | None = None,
    window: int = 224,
    stride: int | None = None,
    bands: Sequence[int] | None = None,
    batch_size: int = 64,
    device: str | torch.device = 'auto',
    progress: bool = False,
    force_quick_gelu: bool = False,
    loaded: LoadedModel | None = None,
) -> SceneMap:
    """Write a zero-shot class map (or a query heatmap) of a raster as a Cloud Optimized GeoTIFF.

    Args:
        raster: A GeoTIFF (any band count and bit depth), or single-band files on one grid
            stacked in band order (e.g. a Sentinel-2 patch's ``B04.tif, B03.tif, B02.tif``).
        output: The ``.tif`` to write (atomically: nothing under this name unless complete).
        classes: Class names; or give ``query``.
        query: A text query: write its cosine similarity instead of class probabilities.
        templates: Prompt templates with ``{}``, a template file, or None / ``'default'``
            (RemoteCLIP's ensemble). Classes only.
        model_name: open_clip model name.
        checkpoint: Weights file; random weights when None.
        window: Window size in raster pixels (resized to the model's input size).
        stride: Step between windows; ``window // 2`` when None (each pixel seen ~4 times).
        bands: 1-based bands read as R, G, B (Sentinel-2 stacks: 4, 3, 2 by default).
        batch_size: Windows per forward.
        device: ``'auto'``, ``'cpu'``, ``'cuda'``...
        progress: Show a progress bar over windows.
        force_quick_gelu: Build the model with QuickGELU.
        loaded: ``(model, preprocess, tokenizer)`` to reuse.

    Returns:
        What was written.

    Raises:
        ValueError: Both or neither of classes and query, a window larger than the raster,
            a bad output name or output == input.
        InputError: A raster that cannot be read or a band it does not have.
    """
    if (classes is None) == (query is None):
        raise ValueError('give exactly one of classes and query')
    stride = stride or max(1, window // 2)
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    output = Path(output)
    paths = [Path(raster)] if isinstance(raster, str | Path) else [Path(p) for p in raster]
    _check_output(output, paths)
    with RasterStack(paths, bands) as stack:
        try:
            rows = window_offsets(stack.height, window, stride)
            columns = window_offsets(stack.width, window, stride)
        except ValueError as error:
            raise InputError(
                paths[0],
                f'{error}; choose a --window of at most '
                f'{min(stack.width, stack.height)} px for this {stack.width}x{stack.height} raster',
            ) from error
        if stack.crs is None:
            warnings.warn(
                f'{paths[0]} has no CRS: the map is written in pixel space (no georeference)',
                stacklevel=2,
            )
        loaded = load_for_prediction(
            model_name, checkpoint, device, force_quick_gelu=force_quick_gelu, loaded=loaded
        )
        targets, band_names = _text_targets(loaded, classes, query, templates)
        kind = 'query' if query is not None else 'classes'
        tags = {
            'model': model_name,
            'checkpoint': str(Path(checkpoint).resolve()) if checkpoint else '',
            'window': str(window),
            'stride': str(stride),
            'bands': ','.join(map(str, stack.bands)),
            'source': ','.join(str(p.resolve()) for p in paths),
        }
        if kind == 'classes':
            tags['classes'] = json.dumps(list(classes or []))
        else:
            tags['query'] = query or ''
        encoded = _write_map(
            stack, output, loaded, targets, kind, band_names, tags,
            rows, columns, window, batch_size, progress,
        )  # fmt: skip
        return SceneMap(
            output,
            band_names,
            len(rows) * len(columns),
            encoded,
            stack.width,
            stack.height,
            stack.crs.to_wkt() if stack.crs else '',
        )


def _write_map(
    stack: RasterStack,
    output: Path,
    loaded: LoadedModel,
    targets: torch.Tensor,
    kind: str,
    band_names: list[str],
    tags: dict[str, str],
    rows: list[int],
    columns: list[int],
    window: int,
    batch_size: int,
    progress: bool,
) -> int:
    model = loaded[0]
    config = window_preprocess_config(model)
    profile = {
        'driver': 'GTiff',
        'width': stack.width,
        'height': stack.height,
        'count': len(band_names),
        'dtype': 'float32',
        'nodata': float('nan'),
        'crs': stack.crs,
        'transform': stack.transform,
        # staging file in strips: finished rows are written whole, so no partial tiles wait in
        # GDAL's cache; the COG copy re-tiles it
        'tiled': False,
        'blockysize': 16,
        'compress': 'deflate',
        'zlevel': 1,
        'BIGTIFF': 'IF_SAFER',
    }
    fd, staging_name = tempfile.mkstemp(
        prefix=f'.{output.name}.', suffix='.staging.tif', dir=output.parent
    )
    os.close(fd)
    staging = Path(staging_name)
    final_tmp = staging.with_suffix('.cog.tif')
    encoded_count = 0
    try:
        with (
            rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE_BYTES),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter('ignore', rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(staging, 'w', **profile) as dst:
                for band, name in enumerate(band_names, start=1):
                    dst.set_band_description(band, name)
                dst.update_tags(**tags)
                blender = _RowBlender(dst, stack.width, window, len(targets), kind)
                pending: list[WindowStrip] = []
                bar = tqdm(
                    total=len(rows) * len(columns),
                    unit='win',
                    desc='mapping windows',
                    disable=not progress,
                )
                with bar:
                    for strip in stack.strips(window, rows):
                        pending.append(strip)
                        if len(pending) * len(columns) >= batch_size:
                            encoded_count += _score_strips(
                                pending, columns, window, model, config, targets, kind,
                                batch_size, blender,
                            )  # fmt: skip
                            bar.update(len(pending) * len(columns))
                            pending = []
                    if pending:
                        encoded_count += _score_strips(
                            pending, columns, window, model, config, targets, kind,
                            batch_size, blender,
                        )  # fmt: skip
                        bar.update(len(pending) * len(columns))
                blender.finish(stack.height)
            rasterio.shutil.copy(
                staging,
                final_tmp,
                driver='COG',
                compress='DEFLATE',
                predictor='YES',
                blocksize=256,
                resampling='NEAREST',
                bigtiff='IF_SAFER',
            )
        os.replace(final_tmp, output)
    finally:
        staging.unlink(missing_ok=True)
        final_tmp.unlink(missing_ok=True)
    return encoded_count


def _score_strips(
    strips: list[WindowStrip],
    columns: list[int],
    window: int,
    model: torch.nn.Module,
    config: dict,
    targets: torch.Tensor,
    kind: str,
    batch_size: int,
    blender: _RowBlender,
) -> int:
    """Encode the windows of some strips in batches, score them and add them to the blender."""
    crops, owners = [], []
    for strip_index, strip in enumerate(strips):
        for column_index, column in enumerate(columns):
            if strip.valid[:, column : column + window].any():
                crops.append(strip.pixels[:, :, column : column + window])
                owners.append((strip_index, column_index))
    scores: list[list[np.ndarray | None]] = [[None] * len(columns) for _ in strips]
    for start in range(0, len(crops), batch_size):
        batch = torch.from_numpy(np.stack(crops[start : start + batch_size]))
        features = encode_windows(model, batch, config)
        similarity = features @ targets.to(features.device).T
        values = (LOGIT_SCALE * similarity).softmax(dim=-1) if kind == 'classes' else similarity
        for (strip_index, column_index), value in zip(
            owners[start : start + batch_size], values.cpu().numpy(), strict=True
        ):
            scores[strip_index][column_index] = value
    for strip, strip_scores in zip(strips, scores, strict=True):
        blender.add(strip, columns, strip_scores)
    return len(crops)
