"""Box-to-Caption (B2C): five rule-based captions per image from its labelled boxes.

RemoteCLIP (Liu et al., 2024, section III-B1) turns detection boxes into five captions: caption 1
describes the objects whose box centre lies in the centre of the image, caption 2 the objects
that do not, captions 3-5 count randomly chosen object categories, and a count above ten becomes
"many" / "a lot of". The paper leaves the rest open; this module decides it as follows (all of it
is configurable through :class:`B2CConfig`):

* **Centre region**: the central box spanning the middle ``center_fraction`` of the width and of
  the height (default 0.5, i.e. ``[W/4, 3W/4] x [H/4, 3H/4]``, borders included). A box is
  central when its centre ``((x1 + x2) / 2, (y1 + y2) / 2)`` lies in it.
* **Listing objects**: categories grouped, ordered by count (largest first, ties by name),
  joined as ``"A, B and C"``. One object is ``"a ship"`` / ``"an airplane"``, 2..10 are digits
  (``"4 ships"``, or words with ``numbers_as_words``), more than ``many_threshold`` become
  ``"many ships"`` / ``"a lot of ships"`` / ``"lots of ships"`` (word drawn per caption).
* **No central object** (caption 1) or **no edge object** (caption 2): the caption lists all
  objects with a location-free template (``"... are located in the picture"``), so every
  caption stays true.
* **Counting captions 3-5**: each draws a number of categories ``k`` uniformly from
  ``1..min(categories, max_count_categories)``, then ``k`` distinct categories uniformly, and
  states their full counts in the image.
* **No objects at all**: the five ``empty_templates`` captions (the converter skips such images
  unless asked to keep them).
* **Class names**: ``"small-vehicle"`` / ``"Small_Vehicle"`` -> ``"small vehicle"``, then a
  vocabulary maps joined names (``"storagetank"`` -> ``"storage tank"``); plurals by English
  rules on the last word plus an irregular table (``"person"`` -> ``"people"``).
* **Randomness**: each image's draws come from a splitmix64 counter stream started at the
  BLAKE2b hash of ``(seed, key)`` (``key`` defaults to a digest of the boxes and labels): the
  same input and seed always give the same captions, whatever order or batch images come in.
* **Style**: first letter capitalised, ending ``" ."`` like RSICD/RemoteCLIP's captions.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter

import numpy as np

__all__ = [
    'DEFAULT_B2C_CONFIG',
    'B2CConfig',
    'boxes_to_captions',
    'boxes_to_captions_batch',
    'normalise_class_name',
    'pluralise',
]

#: Joined or dataset-specific class names -> readable names (applied after normalisation).
DEFAULT_CLASS_NAMES: dict[str, str] = {
    'baseballfield': 'baseball field',
    'basketballcourt': 'basketball court',
    'golffield': 'golf field',
    'groundtrackfield': 'ground track field',
    'storagetank': 'storage tank',
    'store tank': 'storage tank',
    'tenniscourt': 'tennis court',
    'trainstation': 'train station',
    'oiltank': 'oil tank',
    'oilpot': 'oil tank',
    'plane': 'airplane',
    'people': 'person',
    'motor': 'motorbike',
    't junction': 'T-junction',
    'crossroad': 'crossroad',
}

#: Irregular plurals (of the last word of a class name).
DEFAULT_PLURALS: dict[str, str] = {
    'person': 'people',
    'people': 'people',
    'aircraft': 'aircraft',
    'sheep': 'sheep',
    'fish': 'fish',
    'man': 'men',
    'woman': 'women',
    'child': 'children',
    'leaf': 'leaves',
    'vegetation': 'vegetation',
    'farmland': 'farmland',
    'bareland': 'bareland',
}

_NUMBER_WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')
_NUMBER_WORDS += ('ten',)


@dataclass(frozen=True)
class B2CConfig:
    """Rules and wording of Box-to-Caption.

    Templates are ``str.format`` strings with ``{objects}`` (the object list) and optionally
    ``{be}`` (``is`` for a single object, else ``are``).

    Attributes:
        center_fraction: Side of the central region as a fraction of the image side (0..1).
        many_threshold: Counts above this use a ``many_words`` quantifier instead of a number.
        many_words: Quantifiers for large counts; one is drawn per caption.
        center_templates: Caption 1 templates (objects in the central region).
        edge_templates: Caption 2 templates (objects outside the central region).
        anywhere_templates: Captions 1/2 when the centre or the edge has no object.
        count_templates: Templates of the counting captions 3-5.
        empty_templates: The captions of an image without objects (cycled to five).
        max_count_categories: Most categories one counting caption names.
        numbers_as_words: Write 2..10 as words (``"four ships"``) instead of digits.
        ending: Appended to every caption (RSICD style ``" ."``).
        class_names: Renames applied after normalisation (``"storagetank"`` ->
            ``"storage tank"``).
        plurals: Irregular plurals of the last word of a name.
        region_classes: Normalised names of "stuff" classes (segmentation) written as
            ``"a place with <name>"`` / ``"3 places with <name>"``.
        strict: Raise ``ValueError`` for labels missing from ``class_names`` (a closed
            vocabulary) instead of using the normalised label.
    """

    center_fraction: float = 0.5
    many_threshold: int = 10
    many_words: tuple[str, ...] = ('many', 'a lot of', 'lots of')
    center_templates: tuple[str, ...] = (
        '{objects} in the middle of the picture',
        'there {be} {objects} in the middle of the picture',
        '{objects} {be} located in the center of the picture',
    )
    edge_templates: tuple[str, ...] = (
        '{objects} at the edge of the picture',
        'there {be} {objects} at the edge of the picture',
        '{objects} {be} located around the edges of the picture',
    )
    anywhere_templates: tuple[str, ...] = (
        '{objects} {be} located in the picture',
        'there {be} {objects} in this remote sensing picture',
    )
    count_templates: tuple[str, ...] = (
        'there {be} {objects} in the picture',
        '{objects} {be} in this remote sensing picture',
        'there {be} {objects} in this remote sensing picture',
        'the picture contains {objects}',
    )
    empty_templates: tuple[str, ...] = (
        'a remote sensing picture with no annotated objects',
        'there is no annotated object in this remote sensing picture',
        'no objects are marked in the picture',
        'nothing is annotated in this remote sensing picture',
        'the picture shows no annotated objects',
    )
    max_count_categories: int = 3
    numbers_as_words: bool = False
    ending: str = ' .'
    class_names: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CLASS_NAMES))
    plurals: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PLURALS))
    region_classes: frozenset[str] = frozenset()
    strict: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.center_fraction <= 1.0:
            raise ValueError(f'center_fraction must be in [0, 1], got {self.center_fraction}')
        if self.many_threshold < 1:
            raise ValueError(f'many_threshold must be >= 1, got {self.many_threshold}')
        if self.max_count_categories < 1:
            raise ValueError('max_count_categories must be >= 1')
        for name in ('many_words', 'center_templates', 'edge_templates', 'anywhere_templates'):
            if not getattr(self, name):
                raise ValueError(f'{name} must not be empty')
        for name in ('count_templates', 'empty_templates'):
            if not getattr(self, name):
                raise ValueError(f'{name} must not be empty')
        # Per-config caches of rendered class names and templates (the config is immutable).
        object.__setattr__(self, '_names', {})
        object.__setattr__(self, '_prepared', {})


DEFAULT_B2C_CONFIG = B2CConfig()


def normalise_class_name(label: str, class_names: Mapping[str, str] | None = None) -> str:
    """Make a readable class name: ``"Small_Vehicle"`` / ``"small-vehicle"`` -> ``"small vehicle"``.

    Args:
        label: The class name as written in an annotation.
        class_names: Renames applied to the normalised name (default: the built-in table).

    Returns:
        Lower-case words separated by single spaces, then renamed.
    """
    words = label.replace('_', ' ').replace('-', ' ').lower().split()
    name = ' '.join(words)
    table = DEFAULT_CLASS_NAMES if class_names is None else class_names
    return table.get(name, name)


def pluralise(name: str, plurals: Mapping[str, str] | None = None) -> str:
    """Plural of a (multi-word) class name: the last word takes the plural.

    Args:
        name: A normalised class name (``"storage tank"``).
        plurals: Irregular plurals of single words (default: the built-in table).

    Returns:
        The plural (``"storage tanks"``, ``"buses"``, ``"ferries"``, ``"people"``).
    """
    table = DEFAULT_PLURALS if plurals is None else plurals
    head, _, last = name.rpartition(' ')
    lower = last.lower()
    if lower in table:
        plural = table[lower]
    elif lower.endswith(('s', 'x', 'z', 'ch', 'sh')):
        plural = last + 'es'
    elif lower.endswith('y') and len(lower) > 1 and lower[-2] not in 'aeiou':
        plural = last[:-1] + 'ies'
    else:
        plural = last + 's'
    return f'{head} {plural}' if head else plural


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _image_draws(keys: np.ndarray, count: int) -> np.ndarray:
    """``count`` uniform 30-bit integers per image from its 64-bit key (splitmix64 stream).

    30 bits keep the values one-digit Python ints (cheap to convert); modulo bias stays below
    ``n / 2**30``.

    A ``numpy.random.Generator`` per image costs ~15 us to create, a third of the per-image
    time budget; one vectorised counter-based hash over all images gives the same per-image
    determinism (draws depend only on seed and key, never on batch order) for far less.
    """
    # Array arithmetic on uint64 wraps modulo 2**64 without warnings, as splitmix64 wants.
    state = keys[:, None] + np.arange(1, count + 1, dtype=np.uint64) * _GOLDEN
    state = (state ^ (state >> np.uint64(30))) * _MIX1
    state = (state ^ (state >> np.uint64(27))) * _MIX2
    state ^= state >> np.uint64(31)
    return (state >> np.uint64(34)).astype(np.int64)


def _names(config: B2CConfig, label: str) -> tuple[str, str]:
    """Singular and plural display names of a raw label (cached per config)."""
    cache: dict[str, tuple[str, str]] = config._names  # type: ignore[attr-defined]
    names = cache.get(label)
    if names is None:
        words = ' '.join(label.replace('_', ' ').replace('-', ' ').lower().split())
        if config.strict and words not in config.class_names:
            raise ValueError(f'unknown class {label!r} (strict vocabulary)')
        name = config.class_names.get(words, words)
        if words in config.region_classes or name in config.region_classes:
            names = (f'place with {name}', f'places with {name}')
        else:
            names = (name, pluralise(name, config.plurals))
        cache[label] = names
    return names


def _phrase(config: B2CConfig, names: tuple[str, str], count: int, many: str) -> str:
    """``"a ship"``, ``"4 ships"`` or ``"many ships"`` for (singular, plural) names."""
    singular, plural = names
    if count == 1:
        article = 'an' if singular[:1].lower() in 'aeiou' else 'a'
        return f'{article} {singular}'
    if count > config.many_threshold:
        return f'{many} {plural}'
    if config.numbers_as_words and count < len(_NUMBER_WORDS):
        return f'{_NUMBER_WORDS[count]} {plural}'
    return f'{count} {plural}'


class _LabelIds(dict[str, int]):
    """Raw label -> provisional display-name id, filled on first lookup."""

    def __init__(self, config: B2CConfig) -> None:
        super().__init__()
        self.config = config
        self.provisional: dict[tuple[str, str], int] = {}

    def __missing__(self, label: str) -> int:
        names = _names(self.config, label)
        value = self[label] = self.provisional.setdefault(names, len(self.provisional))
        return value


def _prepare(template: str, ending: str) -> tuple[str, bool]:
    """A template with the ending appended and its first letter capitalised.

    When the template starts with a placeholder, the flag says to capitalise each caption.
    """
    if template.startswith('{'):
        return template + ending, True
    return template[:1].upper() + template[1:] + ending, False


class _Renderer:
    """Writes captions for one batch; caches object phrases by (class id, count, quantifier)."""

    def __init__(self, config: B2CConfig, display: list[tuple[str, str]]) -> None:
        self.config = config
        self.display = display
        self.phrases: dict[int, str] = {}
        self.quantifiers = len(config.many_words)
        self.threshold = config.many_threshold
        self.stride = config.many_threshold + 1 + len(config.many_words)

    def prepared(self, name: str) -> list[tuple[str, bool]]:
        """The config's ``name`` templates with capitalisation and ending applied (cached)."""
        cache: dict[str, list[tuple[str, bool]]] = self.config._prepared  # type: ignore[attr-defined]
        ready = cache.get(name)
        if ready is None:
            ready = [_prepare(t, self.config.ending) for t in getattr(self.config, name)]
            cache[name] = ready
        return ready

    def render(
        self,
        templates: list[tuple[str, bool]],
        items: list[tuple[int, int]],
        many: int,
        template: int,
    ) -> str:
        """Fill ``templates[template % len]`` with ``(class id, count)`` items (in order)."""
        threshold = self.threshold
        quantifier = many % self.quantifiers
        phrases = self.phrases
        stride = self.stride
        parts = []
        for class_id, count in items:
            key = class_id * stride + (count if count <= threshold else threshold + 1 + quantifier)
            phrase = phrases.get(key)
            if phrase is None:
                config = self.config
                phrase = _phrase(
                    config, self.display[class_id], count, config.many_words[quantifier]
                )
                phrases[key] = phrase
            parts.append(phrase)
        objects = parts[0] if len(parts) == 1 else ', '.join(parts[:-1]) + ' and ' + parts[-1]
        be = 'is' if len(items) == 1 and items[0][1] == 1 else 'are'
        text, starts_with_placeholder = templates[template % len(templates)]
        text = text.format(objects=objects, be=be)
        return text[:1].upper() + text[1:] if starts_with_placeholder else text


def _empty_captions(config: B2CConfig) -> list[str]:
    count = len(config.empty_templates)
    return [
        config.empty_templates[i % count][:1].upper()
        + config.empty_templates[i % count][1:]
        + config.ending
        for i in range(5)
    ]


def boxes_to_captions(
    boxes: np.ndarray | Sequence[Sequence[float]],
    labels: Sequence[str],
    width: float,
    height: float,
    *,
    seed: int = 0,
    config: B2CConfig | None = None,
    key: str | None = None,
) -> list[str]:
    """Five captions for one image from its boxes (RemoteCLIP's Box-to-Caption).

    The same as :func:`boxes_to_captions_batch` with one image.

    Args:
        boxes: ``[N, 4]`` boxes ``xmin, ymin, xmax, ymax`` in pixels.
        labels: Class name of each box (raw; normalised here).
        width: Image width in pixels.
        height: Image height in pixels.
        seed: Seed of the random choices (templates, quantifiers, counted categories).
        config: Rules and wording (default :data:`DEFAULT_B2C_CONFIG`).
        key: Identifies the image in the random stream (e.g. its path); default a digest of
            the boxes and labels.

    Returns:
        Five captions: centre objects, edge objects, then three counting captions.

    Raises:
        ValueError: If boxes and labels differ in length, the size is not positive, or a label
            is outside a strict vocabulary.
    """
    return boxes_to_captions_batch(
        [boxes], [labels], [width], [height], seed=seed, config=config, keys=[key]
    )[0]


def boxes_to_captions_batch(
    boxes: Sequence[np.ndarray | Sequence[Sequence[float]]],
    labels: Sequence[Sequence[str]],
    widths: Sequence[float],
    heights: Sequence[float],
    *,
    seed: int = 0,
    config: B2CConfig | None = None,
    keys: Sequence[str | None] | None = None,
) -> list[list[str]]:
    """Five captions for each of many images; vectorised over all their boxes.

    Each image's captions depend only on its own boxes, labels, size, key and the seed, so the
    result equals :func:`boxes_to_captions` called per image, in any order or batching.

    Args:
        boxes: Per image, ``[N, 4]`` boxes ``xmin, ymin, xmax, ymax`` in pixels.
        labels: Per image, the class name of each box.
        widths: Image widths in pixels.
        heights: Image heights in pixels.
        seed: Seed of the random choices.
        config: Rules and wording (default :data:`DEFAULT_B2C_CONFIG`).
        keys: Per image, a key for the random stream (e.g. the image path); None entries use a
            digest of that image's boxes and labels.

    Returns:
        Per image, its five captions.

    Raises:
        ValueError: As :func:`boxes_to_captions`, naming the image's position.
    """
    config = DEFAULT_B2C_CONFIG if config is None else config
    images = len(labels)
    if not (len(boxes) == len(widths) == len(heights) == images):
        raise ValueError('boxes, labels, widths and heights must have one entry per image')
    keys = [None] * images if keys is None else keys
    arrays = [np.asarray(b, dtype=np.float64).reshape(-1, 4) for b in boxes]
    for index in range(images):
        if len(arrays[index]) != len(labels[index]):
            raise ValueError(
                f'image {index}: {len(arrays[index])} boxes but {len(labels[index])} labels'
            )
        if widths[index] <= 0 or heights[index] <= 0:
            raise ValueError(
                f'image {index}: size must be positive, got {widths[index]}x{heights[index]}'
            )

    # Display names -> dense ids, in alphabetical order of the names so that ties in counts
    # list by name (labels differing only in spelling merge). One pass over all labels: a
    # missing label gets a provisional id, remapped to its rank below.
    label_ids = _LabelIds(config)
    provisional = label_ids.provisional
    sizes = np.array([len(b) for b in arrays], dtype=np.int64)
    ids = np.fromiter(
        map(label_ids.__getitem__, chain.from_iterable(labels)),
        dtype=np.int64,
        count=int(sizes.sum()),
    )
    display = sorted(provisional)
    rank = np.empty(max(len(display), 1), dtype=np.int64)
    rank[[provisional[names] for names in display]] = np.arange(len(display))
    ids = rank[ids]
    classes = max(len(display), 1)

    # Centre test for all boxes at once.
    owner = np.repeat(np.arange(images, dtype=np.int64), sizes)
    stacked = np.concatenate(arrays) if images else np.zeros((0, 4))
    scale_x = np.asarray(widths, dtype=np.float64)[owner]
    scale_y = np.asarray(heights, dtype=np.float64)[owner]
    half = config.center_fraction * 0.5
    central = (np.abs((stacked[:, 0] + stacked[:, 2]) * 0.5 / scale_x - 0.5) <= half) & (
        np.abs((stacked[:, 1] + stacked[:, 3]) * 0.5 / scale_y - 0.5) <= half
    )
    cell = owner * classes + ids
    totals = np.bincount(cell, minlength=images * classes).reshape(images, classes).tolist()
    inside = (
        np.bincount(cell[central], minlength=images * classes).reshape(images, classes).tolist()
    )

    # Random draws at fixed positions: 2 per location caption (quantifier, template), per
    # counting caption quantifier, template, size and one per chosen category.
    most_categories = config.max_count_categories
    stride = 3 + most_categories
    offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    secret = str(int(seed)).encode()
    key_digests = []
    for index, key in enumerate(keys):
        if key is None:
            digest = hashlib.blake2b(stacked[offsets[index] : offsets[index + 1]].tobytes())
            digest.update('\x00'.join(labels[index]).encode())
            key_bytes = digest.digest()
        else:
            key_bytes = str(key).encode()
        key_digests.append(hashlib.blake2b(key_bytes, digest_size=8, key=secret).digest())
    image_keys = np.frombuffer(b''.join(key_digests), dtype='<u8').astype(np.uint64)
    all_draws = _image_draws(image_keys, 4 + 3 * stride).tolist()

    renderer = _Renderer(config, display)
    render = renderer.render
    centre_templates = renderer.prepared('center_templates')
    edge_templates = renderer.prepared('edge_templates')
    anywhere_templates = renderer.prepared('anywhere_templates')
    count_templates = renderer.prepared('count_templates')
    by_count = itemgetter(1)
    empty = _empty_captions(config)
    quantifiers = len(config.many_words)

    def distinct(
        captions: list[str],
        templates: list[tuple[str, bool]],
        items: list[tuple[int, int]],
        many: int,
        template: int,
    ) -> None:
        # The drawn template and quantifier, unless that repeats an earlier caption of the
        # image: then the next template (and quantifier) that does not, if any.
        text = render(templates, items, many, template)
        if text in captions:
            for step in range(1, len(templates) * quantifiers):
                other = render(templates, items, many + step // len(templates), template + step)
                if other not in captions:
                    text = other
                    break
        captions.append(text)

    results: list[list[str]] = []
    for index in range(images):
        total_row = totals[index]
        everything = [(c, n) for c, n in enumerate(total_row) if n]
        if not everything:
            results.append(list(empty))
            continue
        everything.sort(key=by_count, reverse=True)  # stable: ties stay in name order
        inside_row = inside[index]
        draws = all_draws[index]
        centre = [(c, n) for c, n in enumerate(inside_row) if n]
        edge = [(c, n - inside_row[c]) for c, n in enumerate(total_row) if n != inside_row[c]]
        centre.sort(key=by_count, reverse=True)
        edge.sort(key=by_count, reverse=True)
        captions: list[str] = []
        distinct(
            captions,
            *((centre_templates, centre) if centre else (anywhere_templates, everything)),
            draws[0],
            draws[1],
        )
        distinct(
            captions,
            *((edge_templates, edge) if edge else (anywhere_templates, everything)),
            draws[2],
            draws[3],
        )
        categories = len(everything)
        most = min(categories, most_categories)
        for caption in range(3):
            base = 4 + caption * stride
            if categories == 1:
                items = everything
            else:
                size = 1 + draws[base + 2] % most
                chosen = list(range(categories))
                for i in range(size):  # partial Fisher-Yates shuffle
                    j = i + draws[base + 3 + i] % (categories - i)
                    chosen[i], chosen[j] = chosen[j], chosen[i]
                items = [everything[i] for i in sorted(chosen[:size])]
            distinct(captions, count_templates, items, draws[base], draws[base + 1])
        results.append(captions)
    return results
