"""Top-down object shapes for the synthetic aerial world, drawn with OpenCV.

Each ``draw_*`` function paints one object into a :class:`Canvas`: its body goes into the RGB
image and into the instance and semantic masks; shadows and details go into the image only, so
the masks hold exactly the object's footprint. Every object stays inside a disc of the given
``radius`` around its centre, which lets the scene layout keep objects apart.
"""

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ['OBJECT_CLASSES', 'OBJECT_DRAWERS', 'Canvas']

#: Object classes, in semantic-mask order: class ``k`` has mask value ``k + 1`` (0 = ground).
OBJECT_CLASSES: tuple[str, ...] = (
    'airplane',
    'ship',
    'storage tank',
    'vehicle',
    'building',
    'tree',
)

# OpenCV draws with integer coordinates; a 4-bit fixed-point shift gives sub-pixel placement.
_SHIFT = 4
_SCALE = 1 << _SHIFT

_VEHICLE_COLOURS = np.array(
    [[200, 30, 30], [30, 60, 200], [230, 200, 40], [245, 245, 245], [20, 20, 20]], dtype=np.float64
)
_RESIDENTIAL_ROOFS = np.array([[180, 70, 50], [200, 100, 60], [150, 60, 45]], dtype=np.float64)
_INDUSTRIAL_ROOFS = np.array([[120, 140, 170], [160, 160, 165], [90, 110, 140]], dtype=np.float64)


@dataclass
class Canvas:
    """The arrays one scene is drawn into.

    Attributes:
        image: RGB image, uint8 [H, W, 3].
        instance: Instance mask, uint8 [H, W]: 0 = no object, ``i`` = the i-th object drawn.
        semantic: Semantic mask, uint8 [H, W]: 0 = ground, ``k + 1`` = ``OBJECT_CLASSES[k]``.
    """

    image: np.ndarray
    instance: np.ndarray
    semantic: np.ndarray

    def fill_polygon(
        self,
        points: np.ndarray,
        colour: np.ndarray | tuple[float, ...],
        instance_id: int = 0,
        class_id: int = 0,
    ) -> None:
        """Fill a polygon in the image and, when ``instance_id`` > 0, in both masks.

        Args:
            points: Vertices [K, 2] as (x, y) pixel coordinates (floats allowed).
            colour: RGB colour.
            instance_id: Value for the instance mask (0: image only).
            class_id: Value for the semantic mask.
        """
        fixed = [np.round(points * _SCALE).astype(np.int32)]
        cv2.fillPoly(self.image, fixed, _rgb(colour), cv2.LINE_8, _SHIFT)
        if instance_id:
            cv2.fillPoly(self.instance, fixed, instance_id, cv2.LINE_8, _SHIFT)
            cv2.fillPoly(self.semantic, fixed, class_id, cv2.LINE_8, _SHIFT)

    def fill_circle(
        self,
        centre: tuple[float, float],
        radius: float,
        colour: np.ndarray | tuple[float, ...],
        instance_id: int = 0,
        class_id: int = 0,
    ) -> None:
        """Fill a disc in the image and, when ``instance_id`` > 0, in both masks.

        Args:
            centre: (x, y) in pixels.
            radius: Radius in pixels.
            colour: RGB colour.
            instance_id: Value for the instance mask (0: image only).
            class_id: Value for the semantic mask.
        """
        c = (round(centre[0] * _SCALE), round(centre[1] * _SCALE))
        r = max(1, round(radius * _SCALE))
        cv2.circle(self.image, c, r, _rgb(colour), -1, cv2.LINE_8, _SHIFT)
        if instance_id:
            cv2.circle(self.instance, c, r, instance_id, -1, cv2.LINE_8, _SHIFT)
            cv2.circle(self.semantic, c, r, class_id, -1, cv2.LINE_8, _SHIFT)


def _rgb(colour: np.ndarray | tuple[float, ...]) -> tuple[int, int, int]:
    """Clip a colour to 0..255 and return it as an OpenCV colour tuple."""
    # Plain Python: numpy's clip/round cost more than the drawing on 3-element colours.
    r, g, b = (min(255, max(0, int(value + 0.5))) for value in colour)
    return (r, g, b)


def _place(points: np.ndarray, centre: tuple[float, float], angle: float) -> np.ndarray:
    """Rotate shape-local points [K, 2] by ``angle`` (radians) and move them to ``centre``."""
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    return points @ rotation.T + np.asarray(centre)


def _rectangle(x0: float, y0: float, width: float, height: float) -> np.ndarray:
    """Corners of an axis-aligned rectangle, clockwise from the top-left."""
    return np.array([[x0, y0], [x0 + width, y0], [x0 + width, y0 + height], [x0, y0 + height]])


def _jitter(rng: np.random.Generator, colour: np.ndarray, amount: float = 12.0) -> np.ndarray:
    """A colour with a little random brightness change, so objects are not flat copies."""
    return colour + rng.uniform(-amount, amount)


def draw_airplane(
    canvas: Canvas,
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius: float,
    ident: int,
    class_id: int,
) -> None:
    """A light-grey cross-shaped airplane (fuselage, swept wings, tail) at any heading."""
    length = 2 * radius * 0.98
    half, span, chord = length / 2, length * 0.48, max(1.2, length * 0.14)
    body = max(0.9, length * 0.07)
    tail = length * 0.2
    shape = np.array(
        [
            [half, 0],
            [half * 0.6, body],
            [chord * 0.5, body],
            [-chord * 0.4, span],
            [-chord * 1.3, span],
            [-chord * 0.6, body],
            [-half * 0.8, body],
            [-half * 0.95, tail],
            [-half, tail],
            [-half, -tail],
            [-half * 0.95, -tail],
            [-half * 0.8, -body],
            [-chord * 0.6, -body],
            [-chord * 1.3, -span],
            [-chord * 0.4, -span],
            [chord * 0.5, -body],
            [half * 0.6, -body],
        ]
    )
    angle = rng.uniform(0, 2 * np.pi)
    shadow = _place(shape, (centre[0] + 0.8, centre[1] + 0.8), angle)
    canvas.fill_polygon(shadow, (60, 60, 60))
    canvas.fill_polygon(
        _place(shape, centre, angle), _jitter(rng, np.array([236.0, 236, 242]), 8), ident, class_id
    )


def draw_ship(
    canvas: Canvas,
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius: float,
    ident: int,
    class_id: int,
) -> None:
    """A long white hull with a pointed bow and a darker deck house."""
    length = 2 * radius * 0.98
    half, beam = length / 2, max(1.2, length * 0.16)
    hull = np.array(
        [[half, 0], [half * 0.55, beam], [-half, beam], [-half, -beam], [half * 0.55, -beam]]
    )
    angle = rng.uniform(0, 2 * np.pi)
    canvas.fill_polygon(
        _place(hull, centre, angle), _jitter(rng, np.array([225.0, 225, 220])), ident, class_id
    )
    if length > 8:
        deck = np.array(
            [
                [-half * 0.2, beam * 0.5],
                [-half * 0.7, beam * 0.5],
                [-half * 0.7, -beam * 0.5],
                [-half * 0.2, -beam * 0.5],
            ]
        )
        canvas.fill_polygon(_place(deck, centre, angle), (120, 110, 100))


def draw_storage_tank(
    canvas: Canvas,
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius: float,
    ident: int,
    class_id: int,
) -> None:
    """A round white tank with a dark shadow crescent and a grey roof ring."""
    r = radius * rng.uniform(0.8, 0.98)
    canvas.fill_circle((centre[0] + 0.6, centre[1] + 0.6), r, (50, 50, 50))
    canvas.fill_circle(centre, r, _jitter(rng, np.array([242.0, 242, 236]), 6), ident, class_id)
    if r > 3:
        canvas.fill_circle(centre, r * 0.55, (200, 200, 195))


def draw_vehicle(
    canvas: Canvas,
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius: float,
    ident: int,
    class_id: int,
) -> None:
    """A small brightly coloured axis-aligned rectangle (car or truck seen from above)."""
    length = max(3.0, 2 * radius * 0.7)
    width = max(2.0, length * 0.5)
    if rng.integers(2):
        length, width = width, length
    x0, y0 = centre[0] - length / 2, centre[1] - width / 2
    box = _rectangle(x0, y0, length, width)
    colour = _VEHICLE_COLOURS[rng.integers(len(_VEHICLE_COLOURS))]
    canvas.fill_polygon(box, colour, ident, class_id)


def draw_building(
    canvas: Canvas,
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius: float,
    ident: int,
    class_id: int,
    *,
    industrial: bool = False,
) -> None:
    """An axis-aligned roof with a shadow and a ridge line (red roofs, or grey-blue halls)."""
    side = 2 * radius * 0.7  # a square of side s fits a disc of radius s / sqrt(2)
    width = side * rng.uniform(0.7, 1.0)
    height = side * rng.uniform(0.7, 1.0)
    x0, y0 = centre[0] - width / 2, centre[1] - height / 2
    roof = _rectangle(x0, y0, width, height)
    canvas.fill_polygon(roof + 1.0, (45, 45, 45))
    palette = _INDUSTRIAL_ROOFS if industrial else _RESIDENTIAL_ROOFS
    colour = _jitter(rng, palette[rng.integers(len(palette))])
    canvas.fill_polygon(roof, colour, ident, class_id)
    if min(width, height) > 5:
        ridge = _rectangle(x0 + 1, centre[1] - 0.5, width - 2, 1.0)
        canvas.fill_polygon(ridge, colour * 0.7)


def draw_industrial_building(
    canvas: Canvas,
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius: float,
    ident: int,
    class_id: int,
) -> None:
    """A grey-blue industrial hall (see :func:`draw_building`)."""
    draw_building(canvas, rng, centre, radius, ident, class_id, industrial=True)


def draw_tree(
    canvas: Canvas,
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius: float,
    ident: int,
    class_id: int,
) -> None:
    """A round bright-green crown with a dark shadow and a light top."""
    r = radius * rng.uniform(0.75, 0.98)
    canvas.fill_circle((centre[0] + 0.7, centre[1] + 0.7), r, (15, 35, 15))
    canvas.fill_circle(centre, r, _jitter(rng, np.array([95.0, 175, 60])), ident, class_id)
    if r > 2.5:
        canvas.fill_circle((centre[0] - r * 0.3, centre[1] - r * 0.3), r * 0.4, (140, 205, 95))


#: A drawer takes (canvas, rng, centre, radius, instance id, semantic class id) and draws one
#: object.
Drawer = Callable[[Canvas, np.random.Generator, tuple[float, float], float, int, int], None]

#: Drawer per object class name (the residential building style by default).
OBJECT_DRAWERS: dict[str, Drawer] = {
    'airplane': draw_airplane,
    'ship': draw_ship,
    'storage tank': draw_storage_tank,
    'vehicle': draw_vehicle,
    'building': draw_building,
    'tree': draw_tree,
}
