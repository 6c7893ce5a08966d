"""``rs-vlm predict classify`` and ``rs-vlm predict embed``: everyday inference from the shell."""

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rs_vlm.console import CommandParser, add_verbose_option, configure_logging
from rs_vlm.errors import InputError

__all__ = [
    'build_classify_parser',
    'build_embed_parser',
    'classify_main',
    'embed_main',
]


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--model',
        required=True,
        help='released weights (RemoteCLIP-ViT-B-32, see rs-vlm models; fetched through the '
        'Hugging Face cache) or an open_clip model name (ViT-B-32-quickgelu)',
    )
    parser.add_argument(
        '--checkpoint',
        help='weights file or open_clip folder (default: the released weights of --model; '
        'random weights for a plain open_clip name)',
    )
    parser.add_argument('--force-quick-gelu', action='store_true', help='build with QuickGELU')
    parser.add_argument('--device', default='auto', help="'auto' (CUDA if available), 'cpu'...")
    parser.add_argument('--batch-size', type=int, default=32, help='images per forward')
    parser.add_argument(
        '--num-workers',
        type=int,
        default=min(4, os.cpu_count() or 1),
        help='image-decoding processes (default: up to 4)',
    )
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_verbose_option(parser)


def build_classify_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rs-vlm predict classify``."""
    parser = CommandParser(
        prog='rs-vlm predict classify',
        description='Zero-shot classify the images under a folder (recursive; jpg/png/tif) '
        'against class names with template-ensembled prompts; write the top-k classes and '
        'probabilities per image.',
    )
    _add_model_options(parser)
    parser.add_argument('--images', required=True, nargs='+', help='image folder(s) or files')
    classes = parser.add_mutually_exclusive_group(required=True)
    classes.add_argument('--classes', help='comma-separated class names: "forest,river,farm"')
    classes.add_argument('--classes-file', help='text file, one class name per line')
    classes.add_argument('--dataset', help='use the classes (and templates) of a scene dataset')
    parser.add_argument(
        '--templates',
        default='default',
        help="'default' (the dataset's, else RemoteCLIP's) or a file, one '{}' template a line",
    )
    parser.add_argument('--top-k', type=int, default=5, help='classes kept per image')
    parser.add_argument('--on-error', choices=('raise', 'skip'), default='raise')
    parser.add_argument('--output', required=True, help='predictions.csv or predictions.json')
    return parser


def build_embed_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rs-vlm predict embed``."""
    parser = CommandParser(
        prog='rs-vlm predict embed',
        description='Embed images (folder, recursive) and/or captions into an .npz file of '
        'L2-normalised float32 features with the file names / captions, for search.',
    )
    _add_model_options(parser)
    parser.add_argument('--images', nargs='+', help='image folder(s) or files')
    parser.add_argument(
        '--captions', help='caption file: one per line, or CSV/TSV with a title column'
    )
    parser.add_argument('--on-error', choices=('raise', 'skip'), default='raise')
    parser.add_argument('--output', required=True, help='embeddings.npz')
    return parser


def _images_argument(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def _report_error(error: Exception) -> int:
    print(f'error: {error}', file=sys.stderr)
    return 1


def classify_main(argv: Sequence[str] | None = None) -> int:
    """Run ``rs-vlm predict classify``.

    Args:
        argv: Arguments after ``predict classify``.

    Returns:
        0 on success, 1 on bad input (a message names the file), 2 on bad arguments.
    """
    parser = build_classify_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    configure_logging(args.verbose)
    if Path(args.output).suffix.lower() not in ('.csv', '.json'):
        parser.error(f'--output {args.output}: expected a .csv or .json file name')
    if args.top_k < 1 or args.batch_size < 1:
        parser.error('--top-k and --batch-size must be at least 1')

    from rs_vlm.prediction.classify import classify_images, write_predictions
    from rs_vlm.prediction.inputs import parse_class_list, read_class_names

    try:
        classes = None
        if args.classes is not None:
            classes = parse_class_list(args.classes)
        elif args.classes_file is not None:
            classes = read_class_names(args.classes_file)
        result = classify_images(
            _images_argument(args.images),
            classes,
            dataset=args.dataset,
            templates=args.templates,
            model_name=args.model,
            checkpoint=args.checkpoint,
            top_k=args.top_k,
            batch_size=args.batch_size,
            num_workers=args.num_workers,
            device=args.device,
            on_error=args.on_error,
            progress=not args.no_progress,
            force_quick_gelu=args.force_quick_gelu,
        )
        path = write_predictions(result, args.output)
    except (InputError, ValueError) as error:
        return _report_error(error)
    print(result.summary())
    print(f'wrote {path}')
    return 0


def embed_main(argv: Sequence[str] | None = None) -> int:
    """Run ``rs-vlm predict embed``.

    Args:
        argv: Arguments after ``predict embed``.

    Returns:
        0 on success, 1 on bad input (a message names the file), 2 on bad arguments.
    """
    parser = build_embed_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    configure_logging(args.verbose)
    if not args.images and not args.captions:
        parser.error('give --images and/or --captions')
    if Path(args.output).suffix.lower() != '.npz':
        parser.error(f'--output {args.output}: expected an .npz file name')

    from rs_vlm.prediction.embed import (
        Embeddings,
        embed_captions,
        embed_images,
        save_embeddings,
    )
    from rs_vlm.prediction.inputs import read_captions
    from rs_vlm.prediction.model import load_for_prediction

    try:
        captions = read_captions(args.captions) if args.captions else None
        loaded = load_for_prediction(
            args.model, args.checkpoint, args.device, force_quick_gelu=args.force_quick_gelu
        )
        common = {'model_name': args.model, 'checkpoint': args.checkpoint, 'loaded': loaded}
        images = None
        if args.images:
            images = embed_images(
                _images_argument(args.images),
                batch_size=args.batch_size,
                num_workers=args.num_workers,
                on_error=args.on_error,
                progress=not args.no_progress,
                **common,
            )
        texts = embed_captions(captions, **common) if captions else None
        width = (images or texts).image_features.shape[1]  # type: ignore[union-attr]
        empty = np.zeros((0, width), dtype=np.float32)
        result = Embeddings(
            images.image_features if images else empty,
            images.image_files if images else [],
            texts.caption_features if texts else empty,
            texts.captions if texts else [],
            args.model,
            args.checkpoint or '',
            images.skipped if images else (),
        )
        path = save_embeddings(result, args.output)
    except (InputError, ValueError) as error:
        return _report_error(error)
    print(
        f'embedded {len(result.image_files)} image(s) (skipped {len(result.skipped)}) and '
        f'{len(result.captions)} caption(s), {width} dimensions; wrote {path}'
    )
    for name, reason in result.skipped:
        print(f'skipped {name}: {reason}')
    return 0
