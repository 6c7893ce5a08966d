"""Write small georeferenced rasters for the map, index and search tests."""

import warnings
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning

#: A 1 m UTM grid (zone 17N, the NEON fixture's zone) with its origin at the top-left.
UTM17N = CRS.from_epsg(32617)
ORIGIN = Affine(1.0, 0.0, 404000.0, 0.0, -1.0, 3285000.0)


def write_raster(
    path: Path,
    pixels: np.ndarray,
    *,
    crs: CRS | None = UTM17N,
    transform: Affine | None = ORIGIN,
    nodata: float | None = None,
) -> Path:
    """Write a ``[C, H, W]`` array as a GeoTIFF (no CRS/transform when given None)."""
    profile = {
        'driver': 'GTiff',
        'count': pixels.shape[0],
        'height': pixels.shape[1],
        'width': pixels.shape[2],
        'dtype': pixels.dtype,
    }
    if crs is not None:
        profile['crs'] = crs
    if transform is not None:
        profile['transform'] = transform
    if nodata is not None:
        profile['nodata'] = nodata
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        with rasterio.open(path, 'w', **profile) as dst:
            dst.write(pixels)
    return path


def smooth_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """An 8-bit ``[3, H, W]`` image of colour ramps and noise, different in every region."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 1, height)[:, None]
    cols = np.linspace(0, 1, width)[None, :]
    bands = [
        80 + 120 * rows + 40 * np.sin(6 * cols),
        60 + 150 * cols * rows,
        200 - 150 * cols + 30 * np.cos(9 * rows),
    ]
    noise = rng.normal(0, 12, (3, height, width))
    return np.clip(np.stack(bands) + noise, 1, 254).astype(np.uint8)
