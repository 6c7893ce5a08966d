"""Read a georeferenced raster as a grid of square windows, in strips, with band selection.

A raster is one file, or several single-grid files stacked as bands (Sentinel-2 releases such
as BigEarthNet ship one GeoTIFF per band). Windows are read a *strip* at a time (one row of
windows, ``window`` raster rows by the full width) with rasterio's windowed reads, so memory
never holds more than one strip whatever the raster size.

Band values become the 0..255 display range that :mod:`rs_vlm.io.decoding` gives the
datasets we train on: 8-bit data as it is; wider integers and floats by the 2nd..98th
percentile stretch of :func:`~rs_vlm.io.decoding.stretch_to_uint8_range`. For a scene the
percentiles are those of the whole raster (estimated on a decimated read of at most
``STRETCH_SAMPLE_SIDE`` pixels a side), so every window gets the same mapping and the map has
no seams at window borders.
"""

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window, bounds

from rs_vlm.errors import InputError

__all__ = [
    'STRETCH_SAMPLE_SIDE',
    'RasterStack',
    'WindowStrip',
    'default_bands',
    'parse_band_list',
    'window_offsets',
]

#: Longest side of the decimated read that estimates the scene's stretch percentiles.
STRETCH_SAMPLE_SIDE = 1024

#: 1-based band numbers of B04, B03, B02 in 13-band (L1C) and 12-band (L2A) Sentinel-2 stacks.
_SENTINEL2_RGB = (4, 3, 2)


def default_bands(count: int) -> tuple[int, int, int]:
    """The bands read as R, G, B, as :func:`rs_vlm.io.decoding.select_rgb_bands` picks.

    Args:
        count: Number of bands of the raster.

    Returns:
        1-based band numbers: Sentinel-2 true colour (4, 3, 2) for 12 or 13 bands, the
        single band three times for 1 or 2 bands, else the first three.
    """
    if count in (12, 13):
        return _SENTINEL2_RGB
    if count in (1, 2):
        return (1, 1, 1)
    return (1, 2, 3)


def parse_band_list(text: str) -> tuple[int, ...]:
    """Parse ``'4,3,2'`` into 1-based band numbers.

    Args:
        text: Comma-separated positive integers.

    Returns:
        The band numbers.

    Raises:
        ValueError: Anything else (the message quotes the bad item).
    """
    bands = []
    for item in text.split(','):
        item = item.strip()
        if not item.isdigit() or int(item) < 1:
            raise ValueError(f'--bands {text!r}: {item!r} is not a band number (1-based integer)')
        bands.append(int(item))
    if len(bands) not in (1, 3):
        raise ValueError(f'--bands {text!r}: expected 3 band numbers (R,G,B) or 1 (grey)')
    return tuple(bands)


def window_offsets(size: int, window: int, stride: int) -> list[int]:
    """Start offsets of windows along one axis so that every pixel is covered.

    Windows start every ``stride`` pixels; when the last one stops short of the edge, one
    more window is placed flush with the edge (the torchgeo ``GridGeoSampler`` rule).

    Args:
        size: Raster size along the axis.
        window: Window size.
        stride: Step between windows (at most ``window``, or pixels would be skipped).

    Returns:
        Increasing offsets; the last one is ``size - window``.

    Raises:
        ValueError: ``window > size``, ``stride > window`` or a non-positive value.
    """
    if window < 1 or stride < 1:
        raise ValueError(f'window and stride must be >= 1, got {window} and {stride}')
    if stride > window:
        raise ValueError(f'stride {stride} > window {window} would leave pixels unmapped')
    if window > size:
        raise ValueError(f'window {window} px is larger than the raster ({size} px)')
    offsets = list(range(0, size - window + 1, stride))
    if offsets[-1] != size - window:
        offsets.append(size - window)
    return offsets


@dataclass
class WindowStrip:
    """One row of windows read from the raster.

    Attributes:
        row: Top raster row of the strip.
        pixels: ``[3, window, width]`` float32 in 0..255 (nodata pixels set to 0).
        valid: ``[window, width]`` bool, False where any chosen band is nodata.
    """

    row: int
    pixels: np.ndarray
    valid: np.ndarray


class RasterStack:
    """One raster file, or several single-grid files stacked as its bands, with chosen bands.

    Args:
        paths: The file, or files on one grid (same size, transform and CRS) in band order.
        bands: 1-based band numbers of the stack read as R, G, B (or one, repeated); None
            picks :func:`default_bands`.

    Raises:
        InputError: A file that cannot be opened, files on different grids, or a band
            number the raster does not have (the message names the file and its band count).
    """

    def __init__(
        self, paths: str | Path | Sequence[str | Path], bands: Sequence[int] | None = None
    ):
        self.paths = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
        if not self.paths:
            raise ValueError('no raster file given')
        self._sources = []
        self._band_of: list[tuple[int, int]] = []  # stack band -> (source, band in source)
        try:
            for index, path in enumerate(self.paths):
                if not path.is_file():
                    raise InputError(path, 'no such raster file')
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore', NotGeoreferencedWarning)
                    try:
                        source = rasterio.open(path)
                    except RasterioIOError as error:
                        raise InputError(
                            path, f'cannot open as a raster ({error}); expected a GeoTIFF'
                        ) from error
                self._sources.append(source)
                self._band_of.extend((index, band) for band in range(1, source.count + 1))
                self._check_grid(path, source)
        except BaseException:
            self.close()
            raise
        first = self._sources[0]
        self.width: int = first.width
        self.height: int = first.height
        self.transform: Affine = first.transform
        self.crs: CRS | None = first.crs
        self.count = len(self._band_of)
        chosen = tuple(bands) if bands else default_bands(self.count)
        for band in chosen:
            if not 1 <= band <= self.count:
                names = ', '.join(str(p) for p in self.paths)
                self.close()
                raise InputError(
                    names,
                    f'band {band} does not exist: the raster has {self.count} band(s), '
                    f'numbered 1..{self.count}',
                    key='bands',
                )
        self.bands = chosen if len(chosen) == 3 else chosen * 3
        self.dtype = np.dtype(first.dtypes[0])
        self._stretch = None if self.dtype == np.uint8 else self._scene_percentiles()

    def _check_grid(self, path: Path, source: rasterio.DatasetReader) -> None:
        first = self._sources[0]
        if (source.width, source.height) != (first.width, first.height) or (
            source.transform != first.transform or source.crs != first.crs
        ):
            raise InputError(
                path,
                f'not on the grid of {self.paths[0]} ({source.width}x{source.height}, '
                f'{source.crs}, {tuple(source.transform)[:6]}); stacked band files must share '
                'size, transform and CRS',
            )

    def close(self) -> None:
        """Close the files."""
        for source in self._sources:
            source.close()
        self._sources = []

    def __enter__(self) -> 'RasterStack':
        """Use as a context manager."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the files."""
        self.close()

    @property
    def nodata(self) -> float | None:
        """The nodata value of the first chosen band's file (None when it has none)."""
        source, _ = self._band_of[self.bands[0] - 1]
        return self._sources[source].nodata

    def _read(self, window: Window | None = None, out_shape: tuple[int, int] | None = None):
        arrays, masks = [], []
        for band in self.bands:
            source_index, source_band = self._band_of[band - 1]
            source = self._sources[source_index]
            arrays.append(source.read(source_band, window=window, out_shape=out_shape))
            masks.append(source.read_masks(source_band, window=window, out_shape=out_shape))
        valid = np.logical_and.reduce([mask > 0 for mask in masks])
        return np.stack(arrays), valid

    def _scene_percentiles(self) -> list[tuple[float, float]]:
        # The whole scene's 2..98 % range from a decimated read: bounded memory, one mapping.
        scale = max(self.width, self.height) / STRETCH_SAMPLE_SIDE
        shape = (
            (max(1, round(self.height / scale)), max(1, round(self.width / scale)))
            if scale > 1
            else (self.height, self.width)
        )
        sample, valid = self._read(out_shape=shape)
        ranges = []
        for band in sample:
            values = band[valid].astype(np.float64)
            low, high = np.percentile(values, (2, 98)) if values.size else (0.0, 0.0)
            ranges.append((float(low), float(high)))
        return ranges

    def _to_display(self, array: np.ndarray) -> np.ndarray:
        if self._stretch is None:
            return array.astype(np.float32)
        out = np.empty(array.shape, dtype=np.float32)
        for index, (low, high) in enumerate(self._stretch):
            band = array[index].astype(np.float32)
            if high <= low:  # a constant band, as stretch_to_uint8_range treats it
                out[index] = 0 if high <= 0 else np.clip(band, 0, 255)
            else:
                out[index] = np.clip((band - low) * (255.0 / (high - low)), 0, 255)
        return out

    def read_display(self, window: Window | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Read a window as display values.

        Args:
            window: A rasterio window; the whole raster when None.

        Returns:
            ``([3, h, w]`` float32 0..255 with nodata set to 0, ``[h, w]`` bool valid mask).
        """
        array, valid = self._read(window=window)
        pixels = self._to_display(array)
        pixels[:, ~valid] = 0
        return pixels, valid

    def strips(self, window: int, rows: Sequence[int]) -> Iterator[WindowStrip]:
        """Yield one strip per window row: raster rows ``[row, row + window)``, full width.

        Args:
            window: Window size (strip height).
            rows: Top rows of the window rows.

        Yields:
            The strips, in order.
        """
        for row in rows:
            pixels, valid = self.read_display(Window(0, row, self.width, window))
            yield WindowStrip(row, pixels, valid)

    def window_bounds(self, row: int, col: int, size: int) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` of a window in the raster's CRS (pixels if none).

        Args:
            row: Top row.
            col: Left column.
            size: Window size.

        Returns:
            The bounds.
        """
        return bounds(Window(col, row, size, size), self.transform)
