"""Render one synthetic aerial scene: ground, objects on a jittered grid, masks and boxes.

The image is split into a ``GRID`` x ``GRID`` grid of cells; each object gets its own cell and
stays one pixel inside it, so no two objects touch. That keeps the rendered boxes equal to the
boxes that Mask-to-Box recovers from the semantic mask, and keeps every count exact. A scene is
a pure function of the random generator it is given.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from rs_vlm.synthetic.ground import GROUND_PAINTERS
from rs_vlm.synthetic.shapes import (
    OBJECT_CLASSES,
    OBJECT_DRAWERS,
    Canvas,
    Drawer,
    draw_industrial_building,
)

__all__ = ['GRID', 'MAX_COUNT', 'SCENE_TYPES', 'RenderedScene', 'SceneType', 'render_scene']

#: Cells per side of the layout grid.
GRID = 4

#: Largest count of the counted (primary) class in one scene.
MAX_COUNT = 10


@dataclass(frozen=True)
class SceneType:
    """What a scene type contains.

    Attributes:
        name: Human-readable scene name (the zero-shot class name).
        primary: The object class whose count (1..10) is chosen per scene and counted.
        secondary: Classes of the 0..3 extra objects.
        sizes: Object radius range per class, as fractions of the largest radius a cell allows.
    """

    name: str
    primary: str
    secondary: tuple[str, ...]
    sizes: dict[str, tuple[float, float]] = field(default_factory=dict)


_DEFAULT_SIZES: dict[str, tuple[float, float]] = {
    'airplane': (0.85, 1.0),
    'ship': (0.8, 1.0),
    'storage tank': (0.75, 0.95),
    'vehicle': (0.45, 0.6),
    'building': (0.8, 1.0),
    'tree': (0.7, 0.95),
}

#: The scene types, in label order.
SCENE_TYPES: tuple[SceneType, ...] = (
    SceneType('farmland', 'building', ('tree', 'vehicle')),
    SceneType('forest', 'tree', ()),
    SceneType('lake', 'ship', (), {'ship': (0.55, 0.7)}),
    SceneType('residential area', 'building', ('vehicle', 'tree')),
    SceneType('airport', 'airplane', ('vehicle',)),
    SceneType('harbor', 'ship', ('storage tank', 'vehicle')),
    SceneType('industrial area', 'storage tank', ('building', 'vehicle')),
)

# Scene-specific drawing styles; all other (scene, class) pairs use OBJECT_DRAWERS.
_STYLE: dict[tuple[str, str], Drawer] = {
    ('industrial area', 'building'): draw_industrial_building,
}


@dataclass
class RenderedScene:
    """One rendered scene with its annotations.

    Attributes:
        image: RGB image, uint8 [H, W, 3].
        instance_mask: uint8 [H, W]; 0 = no object, ``i`` = object ``i - 1`` of ``boxes``.
        semantic_mask: uint8 [H, W]; 0 = ground, ``k + 1`` = ``OBJECT_CLASSES[k]``.
        boxes: float32 [N, 4] xyxy pixel boxes, ``x2``/``y2`` exclusive (box of the pixels
            ``x1 <= x < x2``, ``y1 <= y < y2``).
        labels: Class name of each box.
        scene: Scene type index into ``SCENE_TYPES``.
        primary_count: How many objects of the scene's primary class were drawn.
    """

    image: np.ndarray
    instance_mask: np.ndarray
    semantic_mask: np.ndarray
    boxes: np.ndarray
    labels: list[str]
    scene: int
    primary_count: int

    @property
    def scene_type(self) -> SceneType:
        """The scene type."""
        return SCENE_TYPES[self.scene]

    @property
    def counts(self) -> dict[str, int]:
        """Objects per class name (classes with at least one object)."""
        counts: dict[str, int] = {}
        for label in self.labels:
            counts[label] = counts.get(label, 0) + 1
        return counts


def render_scene(
    rng: np.random.Generator, scene: int, primary_count: int, image_size: int = 64
) -> RenderedScene:
    """Render a scene of type ``SCENE_TYPES[scene]`` with ``primary_count`` counted objects.

    Args:
        rng: The only source of randomness (seed it for determinism).
        scene: Scene type index.
        primary_count: Objects of the primary class, 1..``MAX_COUNT``.
        image_size: Side of the square image in pixels (at least 32).

    Returns:
        The rendered scene.

    Raises:
        ValueError: If an argument is out of range.
    """
    if not 0 <= scene < len(SCENE_TYPES):
        raise ValueError(f'scene must be in 0..{len(SCENE_TYPES) - 1}, got {scene}')
    if not 1 <= primary_count <= MAX_COUNT:
        raise ValueError(f'primary_count must be in 1..{MAX_COUNT}, got {primary_count}')
    if image_size < 32:
        raise ValueError(f'image_size must be at least 32 pixels, got {image_size}')
    kind = SCENE_TYPES[scene]
    edge_list = [round(k * image_size / GRID) for k in range(GRID + 1)]
    edges = np.array(edge_list)
    ground, water = GROUND_PAINTERS[kind.name](rng, image_size, edges)
    canvas = Canvas(
        image=np.clip(ground, 0, 255).astype(np.uint8),
        instance=np.zeros((image_size, image_size), dtype=np.uint8),
        semantic=np.zeros((image_size, image_size), dtype=np.uint8),
    )

    cells = np.arange(GRID * GRID)
    wet_cells = rng.permutation(cells[water.ravel()]).tolist()
    dry_cells = rng.permutation(cells[~water.ravel()]).tolist()
    wanted = [kind.primary] * primary_count
    if kind.secondary:
        wanted += [
            kind.secondary[i] for i in rng.integers(len(kind.secondary), size=rng.integers(0, 4))
        ]
    # One batch of draws (size, x and y jitter per object): per-call overhead of the generator
    # dominates at this scale.
    draws = rng.random((len(wanted), 3)).tolist()
    labels: list[str] = []
    for name, (size_draw, x_draw, y_draw) in zip(wanted, draws):
        pool = wet_cells if name == 'ship' else dry_cells
        if not pool:
            if name == kind.primary:
                raise RuntimeError(f'no free cell for {name!r} in a {kind.name} scene')
            continue
        cell = pool.pop()
        row, col = divmod(cell, GRID)
        x0, x1 = edge_list[col : col + 2]
        y0, y1 = edge_list[row : row + 2]
        # Pixel centres are integers; keep the object one pixel inside the cell.
        largest = (min(x1 - x0, y1 - y0) - 1) / 2 - 1
        low, high = kind.sizes.get(name, _DEFAULT_SIZES[name])
        radius = largest * (low + (high - low) * size_draw)
        slack = largest - radius
        centre = (
            (x0 + x1 - 1) / 2 + slack * (2 * x_draw - 1),
            (y0 + y1 - 1) / 2 + slack * (2 * y_draw - 1),
        )
        drawer = _STYLE.get((kind.name, name), OBJECT_DRAWERS[name])
        labels.append(name)
        drawer(canvas, rng, centre, radius, len(labels), OBJECT_CLASSES.index(name) + 1)

    return _finish(canvas, labels, scene, kind.primary, rng)


def _finish(
    canvas: Canvas, labels: list[str], scene: int, primary: str, rng: np.random.Generator
) -> RenderedScene:
    """Rotate/flip the scene at random, then read each object's box off the instance mask."""
    turns, flip = int(rng.integers(4)), bool(rng.integers(2))
    arrays = [canvas.image, canvas.instance, canvas.semantic]
    arrays = [np.rot90(a, turns) for a in arrays]
    if flip:
        arrays = [a[:, ::-1] for a in arrays]
    image, instance, semantic = (np.ascontiguousarray(a) for a in arrays)

    boxes: list[list[float]] = []
    kept: list[str] = []
    lookup = np.zeros(256, dtype=np.uint8)
    for ident, found in enumerate(ndimage.find_objects(instance, max_label=len(labels)), 1):
        if found is None:  # drawn too small to cover a pixel centre: not in the annotations
            continue
        ys, xs = found
        boxes.append([xs.start, ys.start, xs.stop, ys.stop])
        kept.append(labels[ident - 1])
        lookup[ident] = len(kept)
    if len(kept) < len(labels):
        instance = lookup[instance]
    return RenderedScene(
        image=image,
        instance_mask=instance,
        semantic_mask=semantic,
        boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        labels=kept,
        scene=scene,
        primary_count=kept.count(primary),
    )
