"""The annotation formats ``convert`` reads: their file suffixes and the reader of one file.

A format is a name (``'dota'``, ``'voc'``, ``'coco'``, ``'auair'``, ``'visdrone'``, ``'carpk'``,
``'levir'``, ``'stanford_drone'``, ``'yolo'``, ``'csv'``, ``'mask'``) with the suffixes of its
annotation files and a reader turning one file into
:class:`~.annotated_image.AnnotatedImage` records. :class:`ReaderOptions` holds everything a
reader needs; it is a frozen, picklable value, so worker processes can read files in parallel.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rs_vlm.errors import AnnotationError

from .annotated_image import AnnotatedImage
from .auair import read_auair
from .carpk import read_carpk
from .coco import read_coco
from .csv_boxes import read_csv_boxes
from .dota import read_dota
from .levir import read_levir
from .mask_files import MaskSettings, read_mask_file
from .reader_utils import IMAGE_SUFFIXES
from .stanford_drone import DEFAULT_FRAME_STRIDE, read_stanford_drone
from .visdrone import read_visdrone
from .voc import read_voc
from .yolo import read_yolo

__all__ = [
    'ANNOTATION_SUFFIXES',
    'FORMATS',
    'ReaderOptions',
    'annotation_files',
    'read_annotation_file',
]

#: Annotation file suffixes of each format (a folder is searched recursively for them).
ANNOTATION_SUFFIXES: dict[str, tuple[str, ...]] = {
    'dota': ('.txt',),
    'voc': ('.xml',),
    'coco': ('.json',),
    'auair': ('.json',),
    'visdrone': ('.txt',),
    'carpk': ('.txt',),
    'levir': ('.txt',),
    'stanford_drone': ('.txt',),
    'yolo': ('.txt',),
    'csv': ('.csv',),
    'mask': (*IMAGE_SUFFIXES, '.npy'),
}

#: The format names, in the order the CLI lists them.
FORMATS: tuple[str, ...] = tuple(ANNOTATION_SUFFIXES)


@dataclass(frozen=True)
class ReaderOptions:
    """What the readers of one conversion need besides the file.

    Attributes:
        images: Image folders, searched in order by VOC, the first used by the other formats
            (None: each format's own layout).
        classes: Strict class list: other classes are errors (None: any).
        class_names: Names of class ids (YOLO; masks).
        skip_difficult: Drop objects marked difficult (DOTA, VOC).
        mask: Mask settings (format ``'mask'``).
        strip_suffix: Removed from a mask's stem to name its image.
        image_suffix: Appended to a mask's stem to name its image.
        frames: Folder Stanford Drone's sampled frames are written to.
        frame_stride: Stanford Drone: sample every this many frames.
    """

    images: tuple[Path, ...] | None = None
    classes: frozenset[str] | None = None
    class_names: tuple[str, ...] | None = None
    skip_difficult: bool = False
    mask: MaskSettings = field(default_factory=MaskSettings)
    strip_suffix: str = ''
    image_suffix: str = ''
    frames: Path | None = None
    frame_stride: int = DEFAULT_FRAME_STRIDE


def annotation_files(format: str, annotations: str | Path) -> list[Path]:
    """The annotation files of a format: the file itself, or a folder's files, sorted.

    Raises:
        ValueError: For an unknown format.
        AnnotationError: If ``annotations`` does not exist.
    """
    if format not in ANNOTATION_SUFFIXES:
        raise ValueError(f'unknown format {format!r}; expected one of {list(FORMATS)}')
    source = Path(annotations)
    if source.is_dir():
        suffixes = ANNOTATION_SUFFIXES[format]
        return sorted(p for p in source.rglob('*') if p.suffix.lower() in suffixes and p.is_file())
    if source.is_file():
        return [source]
    raise AnnotationError(source, 'no such file or folder')


def read_annotation_file(
    format: str, file: Path, options: ReaderOptions, *, skip_errors: bool = False
) -> Iterator[AnnotatedImage | AnnotationError]:
    """Records of the images one annotation file describes.

    Args:
        format: One of :data:`FORMATS`.
        file: The annotation file.
        options: Reader options.
        skip_errors: Yield each :class:`AnnotationError` (the file or entry is skipped)
            instead of raising it.

    Yields:
        Records, and errors when ``skip_errors``.

    Raises:
        AnnotationError: The first bad file or entry, unless ``skip_errors``.
    """
    entry_errors: list[AnnotationError] | None = [] if skip_errors else None
    folder = options.images[0] if options.images else None
    try:
        if format in ('coco', 'auair', 'csv'):
            reader = {'coco': read_coco, 'auair': read_auair, 'csv': read_csv_boxes}[format]
            for record in reader(file, images=folder, classes=options.classes, errors=entry_errors):
                if entry_errors:
                    yield from entry_errors
                    entry_errors.clear()
                yield record
            if entry_errors:
                yield from entry_errors
            return
        if format == 'stanford_drone':
            if options.frames is None:
                raise ValueError('Stanford Drone needs a folder for the frames (frames=...)')
            yield from read_stanford_drone(
                file,
                frames=options.frames,
                videos=folder,
                stride=options.frame_stride,
                classes=options.classes,
                errors=entry_errors,
            )
            if entry_errors:
                yield from entry_errors
            return
        yield _read_single(format, file, options)
    except AnnotationError as error:
        if not skip_errors:
            raise
        yield error


def _read_single(format: str, file: Path, options: ReaderOptions) -> AnnotatedImage:
    """One file of a one-image-per-file format."""
    folder = options.images[0] if options.images else None
    if format == 'dota':
        return read_dota(
            file,
            images=folder,
            classes=options.classes,
            skip_difficult=options.skip_difficult,
        )
    if format == 'voc':
        return read_voc(
            file,
            images=options.images,
            classes=options.classes,
            skip_difficult=options.skip_difficult,
        )
    if format == 'visdrone':
        return read_visdrone(file, images=folder, classes=options.classes)
    if format == 'carpk':
        return read_carpk(file, images=folder)
    if format == 'levir':
        return read_levir(file, images=folder, classes=options.classes)
    if format == 'yolo':
        if not options.class_names:
            raise AnnotationError(file, 'YOLO labels need class names (one name a line)')
        return read_yolo(file, class_names=options.class_names, images=folder)
    if format == 'mask':
        return read_mask_file(
            file,
            options.mask,
            images=folder,
            strip_suffix=options.strip_suffix,
            image_suffix=options.image_suffix,
        )
    raise ValueError(f'unknown format {format!r}; expected one of {list(FORMATS)}')
