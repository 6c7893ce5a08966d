"""De-duplication of training images against test images by perceptual hash (pHash).

RemoteCLIP (section III-B3) drops a training image when its pHash is within Hamming distance
< 2 of a test image's. The hash follows ``imagehash.phash``: grayscale, resize to 32x32
(Lanczos), 2-D DCT, the 8x8 lowest frequencies, bit = coefficient > their median; bits packed
row-major, first bit most significant (so ``f'{hash:016x}'`` equals ``str(imagehash.phash)``).

Search uses multi-index hashing: to find pairs within distance ``d``, split the 64 bits into
``d + 1`` blocks; by the pigeonhole principle any such pair agrees exactly on at least one
block. Each block of the reference hashes is sorted once; each query block is located with a
binary search, and only those candidates get a full Hamming distance. The result equals the
brute-force all-pairs comparison (:func:`brute_force_near_duplicates`), at a fraction of the cost.
"""

import csv
import sys
from collections.abc import Iterable, Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import fft
from tqdm import tqdm

from rs_vlm.atomic import atomic_write
from rs_vlm.console import CommandParser
from rs_vlm.errors import AnnotationError, CorpusError, InputError, OutputPathError
from rs_vlm.output_paths import check_output_paths
from rs_vlm.pixel_budget import check_pixel_budget, max_image_pixels, open_pillow_image

from .corpus_filter import CORPUS_SUFFIXES, corpus_images, drop_images_from_corpus
from .reader_utils import IMAGE_SUFFIXES

#: Characters that would split a path across lines of the one-path-a-line output.
_LINE_BREAKS = ('\n', '\r')

__all__ = [
    'brute_force_near_duplicates',
    'dedup_cli',
    'find_near_duplicates',
    'hamming_distance',
    'hash_images',
    'phash',
]


def phash(image: Image.Image | str | Path, hash_size: int = 8, highfreq_factor: int = 4) -> int:
    """Perceptual hash of an image as an integer of ``hash_size ** 2`` bits (imagehash's pHash).

    Args:
        image: A Pillow image or an image file.
        hash_size: Side of the low-frequency block (8 -> 64-bit hash).
        highfreq_factor: The image is resized to ``hash_size * highfreq_factor`` pixels a side.

    Returns:
        The hash bits, row-major, first bit most significant.
    """
    side = hash_size * highfreq_factor
    if isinstance(image, str | Path):
        if Path(image).suffix.lower() in ('.tif', '.tiff'):
            # GeoTIFFs (multi-band, 16-bit) decode as the datasets decode them: rasterio,
            # the same band choice and stretch (and the same pixel budget).
            from rs_vlm.io.decoding import load_image

            try:
                pixels = load_image(image).permute(1, 2, 0).round().byte().numpy()
            except RuntimeError as error:  # rasterio errors surface as such
                raise OSError(str(error)) from None
            return phash(Image.fromarray(pixels), hash_size, highfreq_factor)
        with open_pillow_image(image) as opened:
            if opened.format == 'JPEG' and opened.width * opened.height > max_image_pixels():
                # Too large to decode whole: decode at 1/2..1/8 scale (never below the hash's
                # input size). Smaller JPEGs are hashed at full scale, as imagehash does.
                opened.draft('L', (side, side))
            check_pixel_budget(*opened.size, image)
            return phash(opened, hash_size, highfreq_factor)
    pixels = np.asarray(
        image.convert('L').resize((side, side), Image.Resampling.LANCZOS), dtype=np.float64
    )
    coefficients = fft.dct(fft.dct(pixels, axis=0), axis=1)[:hash_size, :hash_size]
    bits = (coefficients > np.median(coefficients)).ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), 'big')


def hash_images(
    paths: Sequence[str | Path],
    *,
    errors: list[AnnotationError] | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, list[int]]:
    """PHash of many image files.

    Args:
        paths: Image files.
        errors: When given, unreadable images are appended here and left out instead of
            raising.
        progress: Show a progress bar.

    Returns:
        ``uint64`` hashes and the indices into ``paths`` they belong to.

    Raises:
        AnnotationError: For an unreadable image (when ``errors`` is None).
    """
    hashes: list[int] = []
    kept: list[int] = []
    for index, path in enumerate(tqdm(paths, desc='pHash', unit='image', disable=not progress)):
        try:
            if any(character in str(path) for character in _LINE_BREAKS):
                raise ValueError(
                    'the file name holds a line break, which the one-path-a-line output '
                    'cannot represent; rename the file'
                )
            value = phash(path)
        except (OSError, ValueError, SyntaxError) as error:
            reason = error.reason if isinstance(error, InputError) else str(error)
            failure = AnnotationError(path, f'cannot read image: {reason}')
            if errors is None:
                raise failure from None
            errors.append(failure)
            continue
        hashes.append(value)
        kept.append(index)
    return np.array(hashes, dtype=np.uint64), kept


def hamming_distance(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Bitwise Hamming distance of 64-bit hashes (broadcasting)."""
    return np.bitwise_count(np.bitwise_xor(np.uint64(a) if isinstance(a, int) else a, b))


def _blocks(hashes: np.ndarray, count: int) -> list[np.ndarray]:
    """Split 64-bit hashes into ``count`` contiguous bit blocks (as uint64 values)."""
    bounds = np.linspace(0, 64, count + 1).astype(int)
    blocks = []
    for low, high in pairwise(bounds.tolist()):
        mask = np.uint64((1 << (high - low)) - 1)
        blocks.append((hashes >> np.uint64(low)) & mask)
    return blocks


def find_near_duplicates(
    queries: np.ndarray, references: np.ndarray, *, max_distance: int = 1
) -> np.ndarray:
    """All pairs (query, reference) of 64-bit hashes within ``max_distance`` bits.

    Args:
        queries: ``uint64`` hashes (e.g. training images).
        references: ``uint64`` hashes (e.g. test images).
        max_distance: Largest Hamming distance counted as a duplicate (RemoteCLIP: < 2, so 1).

    Returns:
        ``int64 [K, 3]`` rows ``(query index, reference index, distance)`` sorted by query
        then reference, each pair once.
    """
    queries = np.asarray(queries, dtype=np.uint64).ravel()
    references = np.asarray(references, dtype=np.uint64).ravel()
    if not (0 <= max_distance < 64):
        raise ValueError(f'max_distance must be in 0..63, got {max_distance}')
    if not len(queries) or not len(references):
        return np.zeros((0, 3), dtype=np.int64)
    found_query, found_reference = [], []
    for query_block, reference_block in zip(
        _blocks(queries, max_distance + 1), _blocks(references, max_distance + 1)
    ):
        order = np.argsort(reference_block, kind='stable')
        sorted_block = reference_block[order]
        start = np.searchsorted(sorted_block, query_block, side='left')
        stop = np.searchsorted(sorted_block, query_block, side='right')
        counts = stop - start
        hit = np.flatnonzero(counts)
        if not len(hit):
            continue
        repeats = counts[hit]
        query_index = np.repeat(hit, repeats)
        # positions start[q] .. stop[q]-1 for each hit query, flattened
        offsets = np.arange(repeats.sum()) - np.repeat(np.cumsum(repeats) - repeats, repeats)
        found_query.append(query_index)
        found_reference.append(order[np.repeat(start[hit], repeats) + offsets])
    if not found_query:
        return np.zeros((0, 3), dtype=np.int64)
    query_index = np.concatenate(found_query)
    reference_index = np.concatenate(found_reference)
    pairs = np.unique(query_index * len(references) + reference_index)
    query_index, reference_index = np.divmod(pairs, len(references))
    distance = hamming_distance(queries[query_index], references[reference_index])
    keep = distance <= max_distance
    return np.stack(
        [query_index[keep], reference_index[keep], distance[keep].astype(np.int64)], axis=1
    )


def brute_force_near_duplicates(
    queries: np.ndarray, references: np.ndarray, *, max_distance: int = 1, chunk: int = 1024
) -> np.ndarray:
    """The same as :func:`find_near_duplicates` by comparing every pair (reference and baseline)."""
    queries = np.asarray(queries, dtype=np.uint64).ravel()
    references = np.asarray(references, dtype=np.uint64).ravel()
    rows = []
    for begin in range(0, len(queries), chunk):
        distance = hamming_distance(queries[begin : begin + chunk, None], references[None, :])
        query_index, reference_index = np.nonzero(distance <= max_distance)
        rows.append(
            np.stack(
                [
                    query_index + begin,
                    reference_index,
                    distance[query_index, reference_index].astype(np.int64),
                ],
                axis=1,
            )
        )
    return np.concatenate(rows) if rows else np.zeros((0, 3), dtype=np.int64)


def _images_in(sources: Iterable[Path]) -> list[Path]:
    """Image files named by the ``--train`` / ``--test`` sources.

    Sources are image files, folders (searched recursively), ``.txt`` lists (one path a line,
    relative to the list) and caption corpora (``.csv``/``.tsv``/``.jsonl`` with ``filepath``).
    """
    images: list[Path] = []
    for source in sources:
        if source.suffix.lower() in CORPUS_SUFFIXES and source.is_file():
            images.extend(corpus_images(source))
        elif source.is_dir():
            images.extend(
                sorted(p for p in source.rglob('*') if p.suffix.lower() in IMAGE_SUFFIXES)
            )
        elif source.suffix.lower() == '.txt':
            try:
                # Only \n (and \r\n) end a line: names may hold U+2028, form feeds, ...
                lines = source.read_text(encoding='utf-8').split('\n')
            except (OSError, UnicodeDecodeError) as error:
                raise AnnotationError(source, f'cannot read image list: {error}') from None
            names = (line.removesuffix('\r').strip(' \t') for line in lines)
            images.extend(source.parent / name for name in names if name)
        elif source.is_file():
            images.append(source)
        else:
            raise AnnotationError(source, 'no such file or folder')
    return images


def dedup_cli(argv: Sequence[str] | None = None) -> int:
    """``rs-vlm dedup``: write the training images within distance < threshold of a test image.

    Args:
        argv: Arguments after ``dedup``.

    Returns:
        0 on success, 1 on bad input.
    """
    parser = CommandParser(
        prog='rs-vlm dedup',
        description='List training images whose pHash is within Hamming distance < threshold '
        'of any test image (RemoteCLIP de-duplication).',
    )
    parser.add_argument('--train', type=Path, nargs='+', required=True, help='folders/files/.txt')
    parser.add_argument('--test', type=Path, nargs='+', required=True, help='folders/files/.txt')
    parser.add_argument('--output', type=Path, required=True, help='dropped training images')
    parser.add_argument('--threshold', type=int, default=2, help='duplicate if distance < this')
    parser.add_argument('--pairs', type=Path, help='also write train,test,distance CSV')
    parser.add_argument(
        '--corpus-output',
        type=Path,
        help='with one --train corpus (.csv/.tsv/.jsonl): write it without the dropped images',
    )
    parser.add_argument('--on-error', choices=('raise', 'skip'), default='raise')
    parser.add_argument('--no-progress', action='store_true')
    args = parser.parse_args(argv)
    if args.threshold < 1 or args.threshold > 64:
        parser.error('--threshold must be in 1..64')
    if args.corpus_output and (
        len(args.train) != 1 or args.train[0].suffix.lower() not in CORPUS_SUFFIXES
    ):
        parser.error('--corpus-output needs exactly one --train corpus (.csv, .tsv or .jsonl)')
    errors: list[AnnotationError] | None = [] if args.on_error == 'skip' else None
    try:
        check_output_paths(
            {'--output': args.output, '--pairs': args.pairs, '--corpus-output': args.corpus_output},
            {'--train': args.train, '--test': args.test},
        )
        train = _images_in(args.train)
        test = _images_in(args.test)
        for option, paths, found in (('--train', args.train, train), ('--test', args.test, test)):
            if not found:  # a wrong folder would otherwise silently drop nothing
                raise AnnotationError(
                    paths[0], f'{option} holds no image (folders are searched recursively)'
                )
        show = not args.no_progress and sys.stderr.isatty()
        train_hashes, train_kept = hash_images(train, errors=errors, progress=show)
        test_hashes, test_kept = hash_images(test, errors=errors, progress=show)
    except (AnnotationError, CorpusError, OutputPathError) as error:
        print(f'rs-vlm dedup: error: {error}', file=sys.stderr)
        return 1
    pairs = find_near_duplicates(train_hashes, test_hashes, max_distance=args.threshold - 1)
    dropped = sorted({str(train[train_kept[q]]) for q in pairs[:, 0].tolist()})
    with atomic_write(args.output) as handle:
        handle.writelines(f'{path}\n' for path in dropped)
    if args.pairs:
        with atomic_write(args.pairs) as handle:
            writer = csv.writer(handle, lineterminator='\n')
            writer.writerow(['train', 'test', 'distance'])
            for q, r, d in pairs.tolist():
                writer.writerow([train[train_kept[q]], test[test_kept[r]], d])
    if args.corpus_output:
        kept_rows, dropped_rows = drop_images_from_corpus(
            args.train[0], args.corpus_output, [Path(p) for p in dropped]
        )
        print(
            f'{args.corpus_output}: kept {kept_rows} rows, dropped {dropped_rows}',
            file=sys.stderr,
        )
    print(
        f'{len(dropped)} of {len(train_kept)} training images are within distance < '
        f'{args.threshold} of {len(test_kept)} test images; list in {args.output}'
        + (f'; {len(errors)} unreadable images skipped' if errors else ''),
        file=sys.stderr,
    )
    return 0
