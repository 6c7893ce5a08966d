"""Ground textures for the synthetic aerial world: one painter per scene type.

A painter takes a random generator, the image size and the layout grid's cell edges and returns
the ground as float32 RGB [H, W, 3] in 0..255 plus a boolean [G, G] array marking the grid cells
that are water (where ships go). Each scene type has its own strong colour and texture cue
(parcels with crop rows, dark canopy, teal lake with green shores, road grid, runway, quays,
rails) so that scenes stay distinguishable at 32 px.
"""

import itertools
from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

__all__ = ['GROUND_PAINTERS', 'GroundPainter']

#: (rng, image size, cell edges [G + 1]) -> (ground float32 [H, W, 3], water cells bool [G, G]).
GroundPainter = Callable[[np.random.Generator, int, np.ndarray], tuple[np.ndarray, np.ndarray]]

_CROPS = np.array(
    [[110, 160, 60], [195, 178, 92], [150, 112, 70], [160, 200, 100], [85, 130, 50]],
    dtype=np.float32,
)


# Drawing fresh noise for every image costs more than the rest of a scene; the painters crop
# random windows out of fixed noise fields instead (deterministic, and cheap).
_FIELD_SCALE = 4


@lru_cache(maxsize=32)
def _noise_field(size: int, cells: int) -> np.ndarray:
    """A fixed read-only noise field, ``_FIELD_SCALE`` image sides wide.

    Args:
        size: Image side.
        cells: Noise cells per image side (bicubic-smoothed), or 0 for per-pixel noise.

    Returns:
        float32 [S, S] noise with unit standard deviation (about, when smoothed).
    """
    rng = np.random.default_rng((size, cells))
    side = _FIELD_SCALE * size
    if cells == 0:
        field = rng.standard_normal((side, side), dtype=np.float32)
    else:
        coarse = rng.standard_normal((_FIELD_SCALE * cells,) * 2, dtype=np.float32)
        field = cv2.resize(coarse, (side, side), interpolation=cv2.INTER_CUBIC)
    field.flags.writeable = False
    return field


def _noise_window(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """A random [size, size] window of the fixed noise field ``(size, cells)``."""
    field = _noise_field(size, cells)
    y, x = rng.integers(0, field.shape[0] - size + 1, size=2).tolist()
    return field[y : y + size, x : x + size]


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise [size, size] with unit-ish amplitude, ``cells`` blobs per side."""
    return _noise_window(rng, size, cells)


def _fill(size: int, colour: tuple[float, float, float]) -> np.ndarray:
    """A flat float32 RGB image."""
    return np.broadcast_to(np.asarray(colour, dtype=np.float32), (size, size, 3)).copy()


def _grain(rng: np.random.Generator, image: np.ndarray, amount: float) -> np.ndarray:
    """Add per-pixel grey grain (sensor noise) in place and return the image."""
    image += (_noise_window(rng, image.shape[0], 0) * amount)[..., None]
    return image


def _no_water(edges: np.ndarray) -> np.ndarray:
    """Water-cell array with no water."""
    cells = len(edges) - 1
    return np.zeros((cells, cells), dtype=bool)


def paint_farmland(
    rng: np.random.Generator, size: int, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rectangular parcels of crops, each with rows of its own period and direction."""
    image = np.empty((size, size, 3), dtype=np.float32)
    xs = np.sort(rng.integers(size // 5, size - size // 5, rng.integers(1, 3)))
    ys = np.sort(rng.integers(size // 5, size - size // 5, rng.integers(1, 3)))
    x_bounds = [0, *xs.tolist(), size]
    y_bounds = [0, *ys.tolist(), size]
    grid = np.arange(size, dtype=np.float32)
    for y0, y1 in itertools.pairwise(y_bounds):
        for x0, x1 in itertools.pairwise(x_bounds):
            colour = _CROPS[rng.integers(len(_CROPS))]
            period = float(rng.integers(2, 5))
            along = grid[x0:x1][None, :] if rng.integers(2) else grid[y0:y1][:, None]
            rows = 18.0 * np.sign(np.sin(2 * np.pi * along / period + 0.5))
            image[y0:y1, x0:x1] = colour + rows[..., None]
    # Field boundaries: thin darker tracks.
    for x in xs:
        image[:, x] = (120, 100, 70)
    for y in ys:
        image[y, :] = (120, 100, 70)
    return _grain(rng, image, 5.0), _no_water(edges)


def paint_forest(
    rng: np.random.Generator, size: int, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A dark, clumpy green canopy."""
    image = _fill(size, (30, 75, 32))
    clumps = _smooth_noise(rng, size, max(4, size // 6)) * 18.0
    image += clumps[..., None] * np.array([0.5, 1.0, 0.4], dtype=np.float32)
    return _grain(rng, image, 8.0), _no_water(edges)


def paint_lake(
    rng: np.random.Generator, size: int, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Teal open water with green shores in one or two corners."""
    image = _fill(size, (40, 98, 108))
    image += (_smooth_noise(rng, size, 4) * 6.0)[..., None]
    land = np.zeros((size, size), dtype=np.uint8)
    corners = rng.permutation(4)[: rng.integers(1, 3)]
    for corner in corners:
        cx = 0 if corner % 2 == 0 else size - 1
        cy = 0 if corner < 2 else size - 1
        radius = int(size * rng.uniform(0.25, 0.32))
        cv2.circle(land, (cx, cy), radius, 1, -1)
    shore = cv2.dilate(land, np.ones((3, 3), np.uint8)) > land
    image[land > 0] = (105, 145, 72)
    image[shore] = (190, 180, 130)
    centres = ((edges[:-1] + edges[1:]) // 2).clip(0, size - 1)
    water = land[np.ix_(centres, centres)] == 0
    return _grain(rng, image, 4.0), water


def paint_residential(
    rng: np.random.Generator, size: int, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Green lawns with light plots, split by a grey road grid along the cell borders."""
    image = _fill(size, (118, 172, 88))
    plots = _smooth_noise(rng, size, max(3, size // 8)) > 0.6
    image[plots] = (190, 182, 156)
    width = max(1, round(size / 32))
    for edge in edges[1:-1]:
        image[:, edge - width : edge + width] = (100, 100, 104)
        image[edge - width : edge + width, :] = (100, 100, 104)
    return _grain(rng, image, 5.0), _no_water(edges)


def paint_airport(
    rng: np.random.Generator, size: int, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Grey apron with a dark runway and white centre-line dashes along a cell border."""
    image = _fill(size, (152, 152, 145))
    image += (_smooth_noise(rng, size, 4) * 5.0)[..., None]
    runway_at = int(edges[1 + rng.integers(len(edges) - 2)])
    half = max(1, round(size / 20))
    image[runway_at - half : runway_at + half, :] = (68, 68, 72)
    dash = max(2, size // 16)
    for x in range(0, size, 2 * dash):
        image[runway_at : runway_at + 1, x : x + dash] = (240, 240, 240)
    if rng.integers(2):
        image = np.ascontiguousarray(image.transpose(1, 0, 2))
    return _grain(rng, image, 4.0), _no_water(edges)


def paint_harbor(
    rng: np.random.Generator, size: int, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Deep-blue water over three columns of cells, a concrete quay and piers along borders."""
    image = _fill(size, (28, 62, 135))
    image += (_smooth_noise(rng, size, 4) * 5.0)[..., None]
    quay = int(edges[-2])
    image[:, quay:] = (178, 175, 168)
    width = max(1, round(size / 40))
    for edge in edges[1:-1]:
        start = int(rng.integers(quay // 3, quay))
        image[edge - width : edge + width, start:quay] = (178, 175, 168)
    cells = len(edges) - 1
    water = np.zeros((cells, cells), dtype=bool)
    water[:, :-1] = True
    return _grain(rng, image, 4.0), water


def paint_industrial(
    rng: np.random.Generator, size: int, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Dusty tan yards with dark asphalt patches and a pair of rail lines along a border."""
    image = _fill(size, (196, 146, 96))
    patches = _smooth_noise(rng, size, max(3, size // 10)) > 0.5
    image[patches] = (95, 92, 88)
    rail_at = int(edges[1 + rng.integers(len(edges) - 2)])
    image[:, rail_at - 1] = (55, 45, 40)
    image[:, rail_at] = (55, 45, 40)
    if rng.integers(2):
        image = np.ascontiguousarray(image.transpose(1, 0, 2))
    return _grain(rng, image, 5.0), _no_water(edges)


#: Ground painter per scene type name.
GROUND_PAINTERS: dict[str, GroundPainter] = {
    'farmland': paint_farmland,
    'forest': paint_forest,
    'lake': paint_lake,
    'residential area': paint_residential,
    'airport': paint_airport,
    'harbor': paint_harbor,
    'industrial area': paint_industrial,
}
