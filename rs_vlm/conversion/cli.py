r"""``rs-vlm convert`` (annotations -> caption corpus) and ``rs-vlm dedup`` (test duplicates).

Examples::

    rs-vlm convert --format dota --annotations DOTA/train/labelTxt --output dota.csv
    rs-vlm convert --format voc --annotations DIOR/Annotations --images DIOR/JPEGImages \\
        --output dior.jsonl --jsonl --on-error skip
    rs-vlm convert --format mask --mask-format isprs --annotations Potsdam/labels \\
        --images Potsdam/images --output potsdam.csv
    rs-vlm dedup --train RSICD/train --test RSICD/test UCM/test --output dropped.txt
"""

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from rs_vlm.console import CommandParser
from rs_vlm.errors import AnnotationError, OutputPathError
from rs_vlm.output_paths import check_output_paths

from .annotated_image import AnnotatedImage
from .box_to_caption import DEFAULT_CLASS_NAMES, B2CConfig, boxes_to_captions_batch
from .coco import read_coco
from .corpus_writer import ConversionSummary, CorpusWriter, corpus_path
from .csv_boxes import read_csv_boxes
from .dota import read_dota
from .mask_to_box import NAMED_MASK_FORMATS, mask_to_boxes
from .reader_utils import IMAGE_SUFFIXES, find_image, image_size, read_lines
from .visdrone import read_visdrone
from .voc import read_voc
from .yolo import read_yolo

__all__ = ['FORMATS', 'build_parser', 'dedup_main', 'iter_annotations', 'main']

FORMATS = ('dota', 'voc', 'coco', 'visdrone', 'yolo', 'csv', 'mask')
_SUFFIXES = {
    'dota': ('.txt',),
    'voc': ('.xml',),
    'coco': ('.json',),
    'visdrone': ('.txt',),
    'yolo': ('.txt',),
    'csv': ('.csv',),
    'mask': (*IMAGE_SUFFIXES, '.npy'),
}
_BATCH = 1024

#: Palette (None: index-coded), class names, ignored class ids of mask conversion.
MaskSettings = tuple[
    tuple[tuple[int, int, int], ...] | None, tuple[str, ...] | None, tuple[int, ...]
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rs-vlm convert``."""
    parser = CommandParser(
        prog='rs-vlm convert',
        description='Turn detection boxes or segmentation masks into a five-caption corpus '
        '(RemoteCLIP Box-to-Caption / Mask-to-Box).',
    )
    parser.add_argument('--format', required=True, choices=FORMATS)
    parser.add_argument(
        '--annotations', required=True, type=Path, help='annotation file or folder of them'
    )
    parser.add_argument(
        '--images', type=Path, help='image folder (default: the layout of each format)'
    )
    parser.add_argument('--output', required=True, type=Path, help='corpus .csv/.tsv/.jsonl')
    parser.add_argument('--jsonl', action='store_true', help='JSON lines with 5 captions each')
    parser.add_argument('--summary', type=Path, help='default: <output>.summary.json')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--on-error', choices=('raise', 'skip'), default='raise')
    parser.add_argument(
        '--class-map', type=Path, help='JSON object {annotation name: caption name}'
    )
    parser.add_argument(
        '--classes', type=Path, help='strict class list (one name a line): others are errors'
    )
    parser.add_argument(
        '--class-names', type=Path, help='names of class ids, one a line (yolo, mask)'
    )
    parser.add_argument('--skip-difficult', action='store_true')
    parser.add_argument(
        '--keep-empty', action='store_true', help='keep images without objects (default: skip)'
    )
    parser.add_argument('--center-fraction', type=float, default=0.5)
    parser.add_argument('--many-threshold', type=int, default=10)
    parser.add_argument('--absolute-paths', action='store_true')
    parser.add_argument('--no-progress', action='store_true')
    masks = parser.add_argument_group('mask format')
    masks.add_argument('--mask-format', choices=sorted(NAMED_MASK_FORMATS))
    masks.add_argument('--ignore-index', type=int, nargs='*', help='class ids giving no boxes')
    masks.add_argument('--min-area', type=float, default=0)
    masks.add_argument('--strip-suffix', default='', help='removed from a mask stem')
    masks.add_argument('--image-suffix', default='', help='appended to the stem for the image')
    masks.add_argument(
        '--region-captions',
        action='store_true',
        help='write mask classes as "places with <class>" (stuff classes)',
    )
    return parser


def _name_list(path: Path) -> list[str]:
    names = [line.strip() for line in read_lines(path)]
    names = [name for name in names if name]
    if not names:
        raise AnnotationError(path, 'empty file: expected one class name a line')
    return names


def _class_map(path: Path) -> dict[str, str]:
    try:
        mapping = json.loads(path.read_text(encoding='utf-8'))
    except OSError as error:
        raise AnnotationError(path, f'cannot read file: {error}') from None
    except json.JSONDecodeError as error:
        raise AnnotationError(path, f'malformed JSON: {error.msg}', line=error.lineno) from None
    except UnicodeDecodeError as error:
        raise AnnotationError(path, f'not UTF-8 text: {error}') from None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise AnnotationError(path, 'expected a JSON object of strings {name: caption name}')
    return mapping


def _read_mask(path: Path) -> np.ndarray:
    try:
        if path.suffix.lower() == '.npy':
            mask = np.load(path, allow_pickle=False)
        else:
            with Image.open(path) as image:
                mask = np.array(image.convert('RGB') if image.mode in ('RGBA', 'CMYK') else image)
    except (OSError, ValueError, SyntaxError) as error:
        raise AnnotationError(path, f'cannot read mask: {error}') from None
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    return mask


def _mask_settings(args: argparse.Namespace) -> MaskSettings:
    """Palette, class names and ignored ids from ``--mask-format`` and overrides."""
    palette, names, ignore = None, None, ()
    if args.mask_format:
        palette, names, ignore = NAMED_MASK_FORMATS[args.mask_format]
    if args.class_names:
        names = tuple(_name_list(args.class_names))
    if args.ignore_index is not None:
        ignore = tuple(args.ignore_index)
    return palette, names, ignore


def _mask_record(
    file: Path,
    args: argparse.Namespace,
    settings: tuple[
        tuple[tuple[int, int, int], ...] | None, tuple[str, ...] | None, tuple[int, ...]
    ],
) -> AnnotatedImage:
    """One mask file -> its image's record (boxes by Mask-to-Box)."""
    palette, names, ignore = settings
    stem = file.stem
    if args.strip_suffix and stem.endswith(args.strip_suffix):
        stem = stem[: -len(args.strip_suffix)]
    stem += args.image_suffix
    image = find_image(args.images if args.images is not None else file.parent, stem, file)
    if image.resolve() == file.resolve():
        raise AnnotationError(
            file, 'the image of this mask is the mask itself: pass --images or --image-suffix'
        )
    width, height = image_size(image, file)
    mask = _read_mask(file)
    if mask.shape[:2] != (height, width):
        raise AnnotationError(
            file,
            f'mask is {mask.shape[1]}x{mask.shape[0]} but image {image} is {width}x{height}',
        )
    try:
        boxes, labels = mask_to_boxes(
            mask,
            class_names=names,
            palette=palette if mask.ndim == 3 else None,
            ignore_index=ignore,
            min_area=args.min_area,
        )
    except ValueError as error:
        raise AnnotationError(file, str(error)) from None
    return AnnotatedImage(
        path=str(image), width=width, height=height, boxes=boxes, labels=labels, source=str(file)
    )


def iter_annotations(
    args: argparse.Namespace, errors: list[AnnotationError] | None
) -> Iterator[AnnotatedImage | AnnotationError]:
    """Records of every annotated image; with ``errors`` not None, failures are yielded.

    Args:
        args: Parsed ``rs-vlm convert`` arguments.
        errors: None to raise on the first malformed file, else a list used by multi-image
            readers for per-entry errors (yielded here as they come).

    Yields:
        :class:`AnnotatedImage` records, or :class:`AnnotationError` for skipped files.
    """
    source: Path = args.annotations
    suffixes = _SUFFIXES[args.format]
    if source.is_dir():
        files = sorted(p for p in source.rglob('*') if p.suffix.lower() in suffixes)
    elif source.is_file():
        files = [source]
    else:
        raise AnnotationError(source, 'no such file or folder')
    classes = set(_name_list(args.classes)) if args.classes else None
    readers: dict[str, Callable[[Path], AnnotatedImage]] = {
        'dota': lambda p: read_dota(
            p, images=args.images, classes=classes, skip_difficult=args.skip_difficult
        ),
        'voc': lambda p: read_voc(
            p, images=args.images, classes=classes, skip_difficult=args.skip_difficult
        ),
        'visdrone': lambda p: read_visdrone(p, images=args.images, classes=classes),
    }
    if args.format == 'mask':
        settings = _mask_settings(args)
        readers['mask'] = lambda p: _mask_record(p, args, settings)
    if args.format == 'yolo':
        if not args.class_names:
            raise AnnotationError(source, 'YOLO labels need --class-names (one name a line)')
        yolo_names = _name_list(args.class_names)
        readers['yolo'] = lambda p: read_yolo(p, class_names=yolo_names, images=args.images)
    for file in files:
        if args.format in readers:
            try:
                yield readers[args.format](file)
            except AnnotationError as error:
                if errors is None:
                    raise
                yield error
            continue
        entry_errors: list[AnnotationError] | None = [] if errors is not None else None
        try:
            if args.format == 'coco':
                records = read_coco(file, images=args.images, classes=classes, errors=entry_errors)
            else:
                records = read_csv_boxes(
                    file, images=args.images, classes=classes, errors=entry_errors
                )
            for record in records:
                if entry_errors:
                    yield from entry_errors
                    entry_errors.clear()
                yield record
            if entry_errors:
                yield from entry_errors
        except AnnotationError as error:
            if errors is None:
                raise
            yield error


def _reason(error: AnnotationError) -> str:
    if error.reason.startswith('cannot read image') or (
        error.reason.startswith('image ') and 'not found' in error.reason
    ):
        return 'unreadable image'
    return 'malformed annotation'


def _config(args: argparse.Namespace) -> B2CConfig:
    class_names = dict(DEFAULT_CLASS_NAMES)
    if args.class_map:
        class_names.update(
            {
                ' '.join(k.replace('_', ' ').replace('-', ' ').lower().split()): v
                for k, v in _class_map(args.class_map).items()
            }
        )
    config = B2CConfig(
        center_fraction=args.center_fraction,
        many_threshold=args.many_threshold,
        class_names=class_names,
    )
    if args.format == 'mask' and args.region_captions:
        regions = set()
        if args.mask_format:
            regions |= set(NAMED_MASK_FORMATS[args.mask_format][1])
        if args.class_names:
            regions |= set(_name_list(args.class_names))
        config = replace(config, region_classes=frozenset(regions))
    return config


def convert(args: argparse.Namespace) -> ConversionSummary:
    """Run a conversion described by parsed arguments; return its summary.

    Raises:
        AnnotationError: On the first bad input when ``--on-error raise`` (nothing written).
        OutputPathError: ``--output`` or ``--summary`` is an input or cannot be written
            (checked before anything is read).
    """
    summary_path = args.summary or args.output.with_name(args.output.name + '.summary.json')
    check_output_paths(
        {'--output': args.output, '--summary': summary_path},
        {
            '--annotations': args.annotations,
            '--images': args.images,
            '--class-map': args.class_map,
            '--classes': args.classes,
            '--class-names': args.class_names,
        },
    )
    skip = args.on_error == 'skip'
    try:
        config = _config(args)
    except ValueError as error:
        raise AnnotationError(args.annotations, str(error)) from None
    summary = ConversionSummary()
    batch: list[tuple[str, AnnotatedImage]] = []

    def flush(writer: CorpusWriter) -> None:
        try:
            captions = boxes_to_captions_batch(
                [r.boxes for _, r in batch],
                [r.labels for _, r in batch],
                [r.width for _, r in batch],
                [r.height for _, r in batch],
                seed=args.seed,
                config=config,
                keys=[key for key, _ in batch],
            )
        except ValueError as error:  # e.g. a label outside a strict vocabulary
            raise AnnotationError(batch[0][1].source, str(error)) from None
        for (key, record), texts in zip(batch, captions):
            writer.write(key, texts)
            summary.images += 1
            summary.objects += len(record.labels)
            summary.captions += len(texts)
        batch.clear()

    with CorpusWriter(args.output, jsonl=args.jsonl) as writer:
        progress = tqdm(
            iter_annotations(args, [] if skip else None),
            desc=f'convert {args.format}',
            unit='image',
            disable=True if args.no_progress else None,
            file=sys.stderr,
        )
        for item in progress:
            if isinstance(item, AnnotationError):
                summary.skip(_reason(item), str(item))
                continue
            summary.dropped_boxes.update(item.dropped)
            if not item.labels and not args.keep_empty:
                summary.skip('no objects')
                continue
            batch.append((corpus_path(item.path, args.output, absolute=args.absolute_paths), item))
            if len(batch) >= _BATCH:
                flush(writer)
        if batch:
            flush(writer)
    summary.write(summary_path)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """``rs-vlm convert``: annotations -> five-caption corpus (see module docstring).

    Args:
        argv: Arguments after ``convert``.

    Returns:
        0 on success, 1 on bad input (the message names file and line/key), 2 on usage errors.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.center_fraction <= 1:
        parser.error('--center-fraction must be in [0, 1]')
    if args.many_threshold < 1:
        parser.error('--many-threshold must be >= 1')
    try:
        summary = convert(args)
    except (AnnotationError, OutputPathError) as error:
        print(f'rs-vlm convert: error: {error}', file=sys.stderr)
        return 1
    skipped = sum(summary.skipped.values())
    print(
        f'wrote {summary.images} images, {summary.captions} captions '
        f'({summary.objects} objects) to {args.output}; skipped {skipped} '
        f'{dict(summary.skipped)}',
        file=sys.stderr,
    )
    return 0


def dedup_main(argv: Sequence[str] | None = None) -> int:
    """``rs-vlm dedup``: list training images within Hamming distance < 2 of a test image."""
    from .dedup import dedup_cli

    return dedup_cli(argv)
