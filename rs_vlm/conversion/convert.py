"""Annotations -> five-caption corpus, as a library: :func:`convert_annotations`.

Reading (annotation parsing, image headers, Mask-to-Box) runs in ``workers`` processes over
chunks of annotation files; Box-to-Caption and writing run in the calling process, in file
order, so the corpus is the same byte for byte whatever the worker count.
"""

import sys
from collections import deque
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Literal

from tqdm import tqdm

from rs_vlm.errors import AnnotationError, OutputPathError
from rs_vlm.json_input import parse_json
from rs_vlm.output_paths import check_output_paths

from .annotated_image import AnnotatedImage
from .box_to_caption import DEFAULT_CLASS_NAMES, B2CConfig, boxes_to_captions_batch
from .corpus_writer import ConversionSummary, CorpusWriter, corpus_path
from .formats import ANNOTATION_SUFFIXES, ReaderOptions, annotation_files, read_annotation_file
from .mask_files import MaskSettings
from .reader_utils import ImageNotFoundError, read_lines
from .stanford_drone import DEFAULT_FRAME_STRIDE

__all__ = [
    'OnError',
    'convert_annotations',
    'iter_annotations',
    'read_class_map',
    'read_name_list',
    'skip_reason',
]

OnError = Literal['raise', 'skip']

#: Images captioned per Box-to-Caption call.
_BATCH = 1024
#: Annotation files one worker task reads.
_CHUNK = 32


def read_name_list(path: str | Path) -> list[str]:
    """Class names from a text file, one a line (blank lines ignored).

    Raises:
        AnnotationError: If the file cannot be read or holds no name.
    """
    names = [line.strip() for line in read_lines(path)]
    names = [name for name in names if name]
    if not names:
        raise AnnotationError(path, 'empty file: expected one class name a line')
    return names


def read_class_map(path: str | Path) -> dict[str, str]:
    """A ``{annotation name: caption name}`` JSON object.

    Raises:
        AnnotationError: If the file is unreadable, malformed or not an object of strings.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AnnotationError(path, f'cannot read file: {error}') from None
    mapping = parse_json(data, path, AnnotationError)
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise AnnotationError(path, 'expected a JSON object of strings {name: caption name}')
    return mapping


def skip_reason(error: AnnotationError) -> str:
    """The summary's skip reason of a reader error.

    ``'image not found'`` (the annotation names a file that does not exist),
    ``'unreadable image'`` (it exists but cannot be decoded) or ``'malformed annotation'``.
    """
    if isinstance(error, ImageNotFoundError):
        return 'image not found'
    if error.reason.startswith('cannot read image'):
        return 'unreadable image'
    return 'malformed annotation'


def _folders(images: str | Path | Sequence[str | Path] | None) -> tuple[str | Path, ...]:
    if images is None:
        return ()
    return (images,) if isinstance(images, str | Path) else tuple(images)


def _normalised(name: str) -> str:
    return ' '.join(name.replace('_', ' ').replace('-', ' ').lower().split())


def _read_chunk(
    format: str, files: Sequence[Path], options: ReaderOptions, skip_errors: bool
) -> list[AnnotatedImage | AnnotationError]:
    """Read some annotation files (runs in a worker process)."""
    return [
        item
        for file in files
        for item in read_annotation_file(format, file, options, skip_errors=skip_errors)
    ]


def _records(
    format: str,
    files: Sequence[Path],
    options: ReaderOptions,
    skip_errors: bool,
    workers: int,
) -> Iterator[AnnotatedImage | AnnotationError]:
    """Records of all files, in file order; ``workers > 1`` reads chunks in processes."""
    if workers <= 1 or len(files) <= _CHUNK:
        for file in files:
            yield from read_annotation_file(format, file, options, skip_errors=skip_errors)
        return
    chunks = [files[i : i + _CHUNK] for i in range(0, len(files), _CHUNK)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # A bounded window of chunks in flight keeps memory flat on large datasets.
        pending: deque[Future[list[AnnotatedImage | AnnotationError]]] = deque()
        next_chunk = 0
        while next_chunk < len(chunks) or pending:
            while next_chunk < len(chunks) and len(pending) < 2 * workers:
                pending.append(
                    pool.submit(_read_chunk, format, chunks[next_chunk], options, skip_errors)
                )
                next_chunk += 1
            yield from pending.popleft().result()


def iter_annotations(
    format: str,
    annotations: str | Path,
    *,
    images: str | Path | Sequence[str | Path] | None = None,
    classes: Collection[str] | None = None,
    class_names: Sequence[str] | None = None,
    skip_difficult: bool = False,
    mask_format: str | None = None,
    ignore_index: Sequence[int] | None = None,
    min_area: float = 0.0,
    strip_suffix: str = '',
    image_suffix: str = '',
    frames: str | Path | None = None,
    frame_stride: int = DEFAULT_FRAME_STRIDE,
    on_error: OnError = 'raise',
    workers: int = 1,
) -> Iterator[AnnotatedImage | AnnotationError]:
    """Records of every annotated image of a file or folder of annotations.

    Args:
        format: One of :data:`~.formats.FORMATS`.
        annotations: Annotation file, or a folder searched recursively for the format's files.
        images: Image folder, or folders VOC searches in order (default: each format's
            layout).
        classes: Strict class list: other classes are errors.
        class_names: Names of class ids (``yolo``; ``mask`` overrides the named format's).
        skip_difficult: Drop objects marked difficult.
        mask_format: Named mask format (``isprs``, ``isaid``, ``loveda``).
        ignore_index: Mask class ids giving no boxes (default: the named format's).
        min_area: Smallest mask component area in pixels.
        strip_suffix: Removed from a mask stem.
        image_suffix: Appended to a mask stem for its image.
        frames: Folder the sampled video frames are written to (``stanford_drone``).
        frame_stride: Sample every this many video frames (``stanford_drone``).
        on_error: ``'raise'`` on the first bad file or entry, or ``'skip'`` (errors yielded).
        workers: Processes reading annotation files (1: in this process).

    Yields:
        Records in file order; with ``on_error='skip'`` also the errors of skipped entries.

    Raises:
        AnnotationError: The first bad input with ``on_error='raise'``.
        ValueError: For an unknown format or mask format.
    """
    if format == 'yolo' and not class_names:
        raise AnnotationError(annotations, 'YOLO labels need class names (one name a line)')
    if frame_stride < 1:
        raise ValueError(f'frame_stride must be >= 1, got {frame_stride}')
    if images is None or isinstance(images, str | Path):
        folders = None if images is None else (Path(images),)
    else:
        folders = tuple(Path(folder) for folder in images)
    options = ReaderOptions(
        images=folders,
        classes=frozenset(classes) if classes is not None else None,
        class_names=tuple(class_names) if class_names is not None else None,
        skip_difficult=skip_difficult,
        mask=MaskSettings.named(
            mask_format,
            class_names=tuple(class_names) if class_names is not None else None,
            ignore_index=tuple(ignore_index) if ignore_index is not None else None,
            min_area=min_area,
        ),
        strip_suffix=strip_suffix,
        image_suffix=image_suffix,
        frames=Path(frames) if frames is not None else None,
        frame_stride=frame_stride,
    )
    files = annotation_files(format, annotations)
    yield from _records(format, files, options, on_error == 'skip', workers)


def _b2c_config(
    format: str,
    class_map: Mapping[str, str] | None,
    center_fraction: float,
    many_threshold: int,
    region_captions: bool,
    mask_format: str | None,
    class_names: Sequence[str] | None,
) -> B2CConfig:
    names = dict(DEFAULT_CLASS_NAMES)
    if class_map:
        names.update({_normalised(k): v for k, v in class_map.items()})
    config = B2CConfig(
        center_fraction=center_fraction, many_threshold=many_threshold, class_names=names
    )
    if format == 'mask' and region_captions:
        regions = set(MaskSettings.named(mask_format).class_names or ())
        regions |= set(class_names or ())
        config = replace(config, region_classes=frozenset(regions))
    return config


def _corpus_kind(output: Path, jsonl: bool | None) -> bool:
    """Whether to write JSON lines; the suffix must say what the file holds.

    Our datamodules and open_clip pick the reader by suffix, so JSON lines in a ``.csv`` (or a
    CSV in a ``.txt``) would be misread or refused at training time.
    """
    suffix = output.suffix.lower()
    if suffix not in ('.csv', '.tsv', '.jsonl'):
        raise OutputPathError(
            output, f'unknown corpus suffix {output.suffix!r}: expected .csv, .tsv or .jsonl'
        )
    if jsonl is None:
        return suffix == '.jsonl'
    if jsonl != (suffix == '.jsonl'):
        wanted = 'JSON lines need a .jsonl name' if jsonl else 'a .jsonl name needs JSON lines'
        raise OutputPathError(output, f'{wanted} (readers pick the format by suffix)')
    return jsonl


def _refuse_outputs_read_as_annotations(
    format: str, annotations: Path, outputs: Mapping[str, Path]
) -> None:
    """Refuse an output inside the annotation folder with a suffix the format reads there.

    Such an output would overwrite an annotation file, or be read back as one on the next run.
    """
    if not annotations.is_dir():
        return
    folder = annotations.resolve()
    for option, path in outputs.items():
        target = path.resolve()
        if folder in target.parents and target.suffix.lower() in ANNOTATION_SUFFIXES[format]:
            raise OutputPathError(
                path,
                f'{option} lies inside the annotations folder {annotations} and has the '
                f'suffix {target.suffix!r} of {format} annotation files: it would overwrite '
                'one or be read as one. Choose an output outside that folder',
            )


def convert_annotations(
    format: str,
    annotations: str | Path,
    output: str | Path,
    *,
    images: str | Path | Sequence[str | Path] | None = None,
    jsonl: bool | None = None,
    summary: str | Path | None = None,
    seed: int = 0,
    on_error: OnError = 'raise',
    class_map: Mapping[str, str] | None = None,
    classes: Collection[str] | None = None,
    class_names: Sequence[str] | None = None,
    skip_difficult: bool = False,
    keep_empty: bool = False,
    center_fraction: float = 0.5,
    many_threshold: int = 10,
    absolute_paths: bool = True,
    mask_format: str | None = None,
    ignore_index: Sequence[int] | None = None,
    min_area: float = 0.0,
    strip_suffix: str = '',
    image_suffix: str = '',
    region_captions: bool = False,
    frames: str | Path | None = None,
    frame_stride: int = DEFAULT_FRAME_STRIDE,
    workers: int = 1,
    progress: bool = True,
) -> ConversionSummary:
    """Convert detection boxes or segmentation masks into a five-caption corpus.

    Box-to-Caption writes five captions per image (masks first go through Mask-to-Box). The
    corpus (CSV/TSV ``filepath,title`` rows, or JSON lines ``{"filepath", "captions"}``) and
    the summary JSON are written atomically: nothing appears under their names on failure.

    Args:
        format: One of :data:`~.formats.FORMATS`.
        annotations: Annotation file or folder.
        output: Corpus file (``.csv``, ``.tsv`` or ``.jsonl``).
        images: Image folder, or folders VOC searches in order (default: each format's
            layout).
        jsonl: Write JSON lines; None: when ``output`` ends in ``.jsonl``.
        summary: Summary JSON (default ``<output>.summary.json``).
        seed: Seed of Box-to-Caption's choices.
        on_error: ``'raise'`` (nothing written) or ``'skip'`` (bad images counted by reason).
        class_map: ``{annotation name: caption name}``; every key must match a class seen.
        classes: Strict class list.
        class_names: Names of class ids (``yolo``, ``mask``).
        skip_difficult: Drop objects marked difficult.
        keep_empty: Keep images without objects (their captions say so).
        center_fraction: Side of the central region as a fraction of the image side.
        many_threshold: Counts above this read "many".
        absolute_paths: Write absolute image paths (any trainer reads them from any working
            directory); False writes paths relative to the corpus folder where possible.
        mask_format: Named mask format.
        ignore_index: Mask class ids giving no boxes.
        min_area: Smallest mask component area.
        strip_suffix: Removed from a mask stem.
        image_suffix: Appended to a mask stem.
        region_captions: Write mask classes as "places with <class>".
        frames: Folder the sampled video frames are written to (``stanford_drone``; default
            ``<output stem>_frames`` beside the corpus).
        frame_stride: Sample every this many video frames (``stanford_drone``).
        workers: Processes reading annotations.
        progress: Show a progress bar on stderr.

    Returns:
        What was written and skipped.

    Raises:
        AnnotationError: The first bad input with ``on_error='raise'``; a ``class_map`` key no
            annotation uses (naming the classes seen).
        OutputPathError: The corpus or summary is an input, the other output, or not
            writable (checked before anything is read).
        ValueError: For bad option values.
    """
    output = Path(output)
    annotations = Path(annotations)
    summary_path = (
        Path(summary) if summary is not None else output.with_name(output.name + '.summary.json')
    )
    frame_folder = None
    if format == 'stanford_drone':
        frame_folder = (
            Path(frames) if frames is not None else output.with_name(output.stem + '_frames')
        )
    check_output_paths(
        {'output': output, 'summary': summary_path, 'frames': frame_folder},
        {'annotations': annotations, 'images': images},
        folders=('frames',),
    )
    if frame_folder is not None and any(
        frame_folder.absolute().is_relative_to(Path(p).absolute())
        for p in (annotations, *_folders(images))
    ):
        raise OutputPathError(frame_folder, 'the frames folder must not be inside an input')
    _refuse_outputs_read_as_annotations(
        format, annotations, {'output': output, 'summary': summary_path}
    )
    if on_error not in ('raise', 'skip'):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if workers < 1:
        raise ValueError(f'workers must be >= 1, got {workers}')
    try:
        config = _b2c_config(
            format,
            class_map,
            center_fraction,
            many_threshold,
            region_captions,
            mask_format,
            class_names,
        )
    except ValueError as error:
        raise AnnotationError(annotations, str(error)) from None
    jsonl = _corpus_kind(output, jsonl)
    result = ConversionSummary()
    seen: set[str] = set()
    batch: list[tuple[str, AnnotatedImage]] = []

    def flush(writer: CorpusWriter) -> None:
        try:
            captions = boxes_to_captions_batch(
                [r.boxes for _, r in batch],
                [r.labels for _, r in batch],
                [r.width for _, r in batch],
                [r.height for _, r in batch],
                seed=seed,
                config=config,
                keys=[key for key, _ in batch],
            )
        except ValueError as error:  # e.g. a label outside a strict vocabulary
            raise AnnotationError(batch[0][1].source, str(error)) from None
        for (key, record), texts in zip(batch, captions):
            writer.write(key, texts)
            result.images += 1
            result.objects += len(record.labels)
            result.captions += len(texts)
        batch.clear()

    records = iter_annotations(
        format,
        annotations,
        images=images,
        classes=classes,
        class_names=class_names,
        skip_difficult=skip_difficult,
        mask_format=mask_format,
        ignore_index=ignore_index,
        min_area=min_area,
        strip_suffix=strip_suffix,
        image_suffix=image_suffix,
        frames=frame_folder,
        frame_stride=frame_stride,
        on_error=on_error,
        workers=workers,
    )
    with CorpusWriter(output, jsonl=jsonl) as writer:
        bar = tqdm(
            records,
            desc=f'convert {format}',
            unit='image',
            disable=None if progress else True,
            file=sys.stderr,
        )
        for item in bar:
            if isinstance(item, AnnotationError):
                result.skip(skip_reason(item), str(item))
                continue
            result.dropped_boxes.update(item.dropped)
            seen.update(_normalised(label) for label in item.labels)
            if not item.labels and not keep_empty:
                result.skip('no objects')
                continue
            key = corpus_path(item.path, output, absolute=absolute_paths)
            batch.append((key, item))
            if len(batch) >= _BATCH:
                flush(writer)
        if batch:
            flush(writer)
        # Checked before the corpus is committed: a key that matches nothing is a typo.
        unused = sorted(k for k in class_map or {} if _normalised(k) not in seen)
        if unused:
            raise AnnotationError(
                annotations,
                f'class map keys {unused} match no class in the annotations; classes seen: '
                f'{sorted(seen)}',
            )
    result.write(summary_path)
    return result
