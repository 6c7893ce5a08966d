r"""``rs-vlm convert`` (annotations -> caption corpus) and ``rs-vlm dedup`` (test duplicates).

A thin command line over :func:`rs_vlm.conversion.convert_annotations`.

Examples::

    rs-vlm convert --format dota --annotations DOTA/train/labelTxt --output dota.csv
    rs-vlm convert --format voc --annotations DIOR/Annotations --images DIOR/JPEGImages \\
        --output dior.jsonl --jsonl --on-error skip
    rs-vlm convert --format mask --mask-format isprs --annotations Potsdam/labels \\
        --images Potsdam/images --output potsdam.csv
    rs-vlm dedup --train RSICD/train --test RSICD/test UCM/test --output dropped.txt
"""

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rs_vlm.console import CommandParser
from rs_vlm.errors import AnnotationError, OutputPathError
from rs_vlm.output_paths import check_output_paths

from .convert import convert_annotations, read_class_map, read_name_list
from .formats import ANNOTATION_SUFFIXES, FORMATS, annotation_files
from .mask_to_box import NAMED_MASK_FORMATS
from .stanford_drone import DEFAULT_FRAME_STRIDE

__all__ = ['build_parser', 'dedup_main', 'main']


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
    paths = parser.add_mutually_exclusive_group()
    paths.add_argument(
        '--absolute-paths',
        action='store_true',
        help='absolute image paths (the default: any trainer reads them from any directory)',
    )
    paths.add_argument(
        '--relative-paths',
        action='store_true',
        help='image paths relative to the corpus folder where possible (portable folder)',
    )
    parser.add_argument(
        '--workers', type=int, default=1, help='processes reading annotations (default 1)'
    )
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
    videos = parser.add_argument_group('stanford_drone format (--images: the videos folder)')
    videos.add_argument(
        '--frames', type=Path, help='folder for the sampled frames (default: <output>_frames)'
    )
    videos.add_argument(
        '--frame-stride',
        type=int,
        default=DEFAULT_FRAME_STRIDE,
        help=f'sample every N-th video frame (default: {DEFAULT_FRAME_STRIDE}, 1 per second)',
    )
    return parser


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
    if args.workers < 1:
        parser.error('--workers must be >= 1')
    if args.frame_stride < 1:
        parser.error('--frame-stride must be >= 1')
    try:
        # Before anything is read: no output may be an input (the class files included).
        check_output_paths(
            {'--output': args.output, '--summary': args.summary},
            {
                '--annotations': args.annotations,
                '--images': args.images,
                '--class-map': args.class_map,
                '--classes': args.classes,
                '--class-names': args.class_names,
            },
        )
        _require_annotation_files(args.format, Path(args.annotations))
        summary = convert_annotations(
            args.format,
            args.annotations,
            args.output,
            images=args.images,
            jsonl=True if args.jsonl else None,
            summary=args.summary,
            seed=args.seed,
            on_error=args.on_error,
            class_map=read_class_map(args.class_map) if args.class_map else None,
            classes=read_name_list(args.classes) if args.classes else None,
            class_names=read_name_list(args.class_names) if args.class_names else None,
            skip_difficult=args.skip_difficult,
            keep_empty=args.keep_empty,
            center_fraction=args.center_fraction,
            many_threshold=args.many_threshold,
            absolute_paths=not args.relative_paths,
            mask_format=args.mask_format,
            ignore_index=args.ignore_index,
            min_area=args.min_area,
            strip_suffix=args.strip_suffix,
            image_suffix=args.image_suffix,
            region_captions=args.region_captions,
            frames=args.frames,
            frame_stride=args.frame_stride,
            workers=args.workers,
            progress=not args.no_progress,
        )
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
    if summary.images == 0:
        print(
            f'rs-vlm convert: error: no image was converted; {args.output} holds no caption '
            '(see the errors in the summary JSON)',
            file=sys.stderr,
        )
        return 1
    return 0


def _require_annotation_files(format: str, annotations: Path) -> None:
    """Refuse a folder without any file of the format (a wrong ``--format`` or folder)."""
    if not annotations.is_dir() or annotation_files(format, annotations):
        return
    found = Counter(p.suffix.lower() for p in annotations.rglob('*') if p.is_file())
    seen = ', '.join(f'{count} {suffix or "(no suffix)"}' for suffix, count in found.most_common(4))
    raise AnnotationError(
        annotations,
        f'no {"/".join(ANNOTATION_SUFFIXES[format])} file ({format} annotations) in this folder '
        f'or below; found {seen or "no files"}. Check --format and --annotations',
    )


def dedup_main(argv: Sequence[str] | None = None) -> int:
    """``rs-vlm dedup``: list training images within Hamming distance < 2 of a test image."""
    from .dedup import dedup_cli

    return dedup_cli(argv)
