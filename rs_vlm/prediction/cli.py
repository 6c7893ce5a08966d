"""``rs-vlm predict classify`` and ``rs-vlm predict embed``: everyday inference from the shell."""

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rs_vlm.console import CommandParser, add_verbose_option, configure_logging
from rs_vlm.errors import InputError
from rs_vlm.output_paths import check_output_paths

__all__ = [
    'build_classify_parser',
    'build_embed_parser',
    'build_index_parser',
    'build_map_parser',
    'build_search_parser',
    'classify_main',
    'embed_main',
    'index_main',
    'map_main',
    'search_main',
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
        description='Zero-shot classify the images under a folder (recursive; png/jpg/tif/bmp) '
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
    parser.add_argument(
        '--normalise-prompts',
        action='store_true',
        help="open_clip's class embeddings (normalise each prompt embedding before averaging) "
        "instead of ITRA's (average the raw embeddings), which RemoteCLIP's paper used",
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
        check_output_paths(
            {'--output': args.output},
            {
                '--images': args.images,
                '--classes-file': args.classes_file,
                '--templates': None if args.templates == 'default' else args.templates,
                '--checkpoint': args.checkpoint,
            },
        )
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
            normalise_prompts=args.normalise_prompts,
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
        check_output_paths(
            {'--output': args.output},
            {'--images': args.images, '--captions': args.captions, '--checkpoint': args.checkpoint},
        )
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
            str(Path(args.checkpoint).resolve()) if args.checkpoint else '',
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


def _add_raster_options(parser: argparse.ArgumentParser, stride_default: str) -> None:
    parser.add_argument('--window', type=int, default=224, help='window size in raster pixels')
    parser.add_argument(
        '--stride', type=int, help=f'step between windows (default: {stride_default})'
    )
    parser.add_argument(
        '--bands',
        help='1-based raster bands read as R,G,B, e.g. 4,3,2 (default: Sentinel-2 B04,B03,B02 '
        'for 12/13-band stacks, else the first three)',
    )


def build_map_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rs-vlm predict map``."""
    parser = CommandParser(
        prog='rs-vlm predict map',
        description='Zero-shot map of a georeferenced raster: sliding windows scored against '
        'class prompts (or one text query), blended, written as a Cloud Optimized GeoTIFF with '
        "the input's CRS and transform (band 1 class index, then one probability per class; "
        'or one similarity band with --query).',
    )
    _add_model_options(parser)
    parser.add_argument(
        '--raster',
        required=True,
        nargs='+',
        help='a GeoTIFF, or single-band files on one grid stacked in band order',
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument('--classes', help='comma-separated class names: "forest,river,farm"')
    target.add_argument('--classes-file', help='text file, one class name per line')
    target.add_argument('--query', help='a text query: write its similarity heatmap instead')
    parser.add_argument(
        '--templates', default='default', help="'default' (RemoteCLIP's) or a template file"
    )
    _add_raster_options(parser, 'window / 2')
    parser.add_argument('--output', required=True, help='map.tif')
    return parser


def map_main(argv: Sequence[str] | None = None) -> int:
    """Run ``rs-vlm predict map``.

    Args:
        argv: Arguments after ``predict map``.

    Returns:
        0 on success, 1 on bad input, 2 on bad arguments.
    """
    parser = build_map_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    configure_logging(args.verbose)
    if Path(args.output).suffix.lower() not in ('.tif', '.tiff'):
        parser.error(f'--output {args.output}: expected a .tif or .tiff file name')
    if args.window < 1 or (args.stride is not None and args.stride < 1) or args.batch_size < 1:
        parser.error('--window, --stride and --batch-size must be at least 1')

    from rs_vlm.prediction.inputs import parse_class_list, read_class_names
    from rs_vlm.prediction.raster_windows import parse_band_list
    from rs_vlm.prediction.scene_map import map_scene

    try:
        bands = parse_band_list(args.bands) if args.bands else None
        classes = None
        if args.classes is not None:
            classes = parse_class_list(args.classes)
        elif args.classes_file is not None:
            classes = read_class_names(args.classes_file)
        result = map_scene(
            args.raster,
            args.output,
            classes=classes,
            query=args.query,
            templates=args.templates,
            model_name=args.model,
            checkpoint=args.checkpoint,
            window=args.window,
            stride=args.stride,
            bands=bands,
            batch_size=args.batch_size,
            device=args.device,
            progress=not args.no_progress,
            force_quick_gelu=args.force_quick_gelu,
        )
    except (InputError, ValueError) as error:
        return _report_error(error)
    print(
        f'mapped {result.width}x{result.height} px with {result.windows} windows '
        f'({result.encoded} encoded); bands: {", ".join(result.band_names)}; wrote {result.path}'
    )
    return 0


def build_index_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rs-vlm predict index``."""
    parser = CommandParser(
        prog='rs-vlm predict index',
        description="Embed an image folder or a raster's windows with Lightning's "
        'Trainer.predict (shards, resumable: rerun to continue) and write a FAISS index folder '
        'for rs-vlm predict search.',
    )
    _add_model_options(parser)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--images', nargs='+', help='image folder(s) or files')
    source.add_argument('--raster', nargs='+', help='a GeoTIFF, or band files on one grid')
    _add_raster_options(parser, 'window: tiles that touch')
    parser.add_argument(
        '--index-type',
        default='auto',
        help="'auto' (exact below 100,000 vectors, IVF with 8-bit codes above), 'flat', "
        "'ivfsq', 'ivfpq', 'hnsw' or a FAISS index_factory string",
    )
    parser.add_argument('--accelerator', default='auto', help='Lightning accelerator: auto/cpu/gpu')
    parser.add_argument('--devices', default='1', help='devices per node (Lightning)')
    parser.add_argument('--num-nodes', type=int, default=1, help='nodes (Lightning)')
    parser.add_argument('--strategy', default='auto', help="Lightning strategy, e.g. 'ddp'")
    parser.add_argument('--on-error', choices=('raise', 'skip'), default='raise')
    parser.add_argument('--output', required=True, help='index folder')
    return parser


def index_main(argv: Sequence[str] | None = None) -> int:
    """Run ``rs-vlm predict index``.

    Args:
        argv: Arguments after ``predict index``.

    Returns:
        0 on success, 1 on bad input, 2 on bad arguments.
    """
    parser = build_index_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    configure_logging(args.verbose)
    if args.window < 1 or (args.stride is not None and args.stride < 1) or args.batch_size < 1:
        parser.error('--window, --stride and --batch-size must be at least 1')
    devices = int(args.devices) if args.devices.isdigit() else args.devices

    from rs_vlm.prediction.archive_index import build_archive_index
    from rs_vlm.prediction.raster_windows import parse_band_list

    try:
        bands = parse_band_list(args.bands) if args.bands else None
        info = build_archive_index(
            args.output,
            images=_images_argument(args.images) if args.images else None,
            raster=args.raster,
            model_name=args.model,
            checkpoint=args.checkpoint,
            window=args.window,
            stride=args.stride,
            bands=bands,
            index_type=args.index_type,
            batch_size=args.batch_size,
            num_workers=args.num_workers,
            accelerator=args.accelerator if args.device == 'auto' else args.device,
            devices=devices,
            num_nodes=args.num_nodes,
            strategy=args.strategy,
            on_error=args.on_error,
            progress=not args.no_progress,
            force_quick_gelu=args.force_quick_gelu,
        )
    except (InputError, ValueError) as error:
        return _report_error(error)
    if info is not None:
        print(
            f'indexed {info.count} vectors of {info.dim} dimensions ({info.index_type}: '
            f'{info.description}; {info.resumed} from an earlier run, {len(info.skipped)} '
            f'skipped); wrote {info.path}'
        )
    return 0


def build_search_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rs-vlm predict search``."""
    parser = CommandParser(
        prog='rs-vlm predict search',
        description='Top-k search of an index folder (rs-vlm predict index) or an embeddings '
        'file (rs-vlm predict embed) by text or image, with the model that built it.',
    )
    store = parser.add_mutually_exclusive_group(required=True)
    store.add_argument('--index', help='index folder from rs-vlm predict index')
    store.add_argument('--embeddings', help='.npz file from rs-vlm predict embed')
    query = parser.add_mutually_exclusive_group(required=True)
    query.add_argument('--query', help='text query')
    query.add_argument('--image', help='image file as the query')
    parser.add_argument('--k', type=int, default=20, help='number of hits')
    parser.add_argument('--model', help="check the query model against the index's")
    parser.add_argument('--checkpoint', help="check the query weights against the index's")
    parser.add_argument('--device', default='cpu', help="'cpu', 'cuda'...")
    parser.add_argument(
        '--target', choices=('all', 'images', 'captions'), default='all', help='--embeddings only'
    )
    parser.add_argument('--geojson', help='write raster hit footprints (WGS 84) to this file')
    add_verbose_option(parser)
    return parser


def search_main(argv: Sequence[str] | None = None) -> int:
    """Run ``rs-vlm predict search``.

    Args:
        argv: Arguments after ``predict search``.

    Returns:
        0 on success, 1 on bad input or a model mismatch, 2 on bad arguments.
    """
    parser = build_search_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    configure_logging(args.verbose)
    if args.k < 1:
        parser.error('--k must be at least 1')
    if args.geojson and not args.index:
        parser.error('--geojson needs --index (footprints of raster windows)')
    if args.geojson and Path(args.geojson).suffix.lower() not in ('.geojson', '.json'):
        parser.error(f'--geojson {args.geojson}: expected a .geojson or .json file name')
    query = args.query if args.query is not None else Path(args.image)
    if args.image is not None and not Path(args.image).is_file():
        return _report_error(InputError(args.image, 'no such image file'))

    try:
        if args.embeddings:
            from rs_vlm.prediction.embed import search

            if args.model or args.checkpoint:
                return _report_error(
                    ValueError('--model/--checkpoint apply to --index; an embeddings file '
                               'names its own model')
                )  # fmt: skip
            hits = search(args.embeddings, query, args.k, target=args.target, device=args.device)
            for rank, hit in enumerate(hits, start=1):
                print(f'{rank}\t{hit.score:.4f}\t{hit.kind}\t{hit.name}')
            return 0
        from rs_vlm.prediction.archive_search import (
            hits_to_geojson,
            load_archive_index,
            search_archive,
            write_geojson,
        )

        archive = load_archive_index(args.index)
        results = search_archive(
            archive,
            query,
            args.k,
            model_name=args.model,
            checkpoint=args.checkpoint,
            device=args.device,
        )
        for hit in results:
            where = hit.path if hit.path is not None else ' '.join(f'{v:.6f}' for v in hit.bounds)
            print(f'{hit.rank}\t{hit.score:.4f}\t{hit.item}\t{where}')
        if args.geojson:
            path = write_geojson(hits_to_geojson(archive, results), args.geojson)
            print(f'wrote {path}')
    except (InputError, ValueError) as error:
        return _report_error(error)
    return 0
