"""Write a caption corpus as WebDataset-style tar shards: ``rs-vlm shard``.

Each sample ``<key>`` (a 9-digit running number) becomes ``<key>.<image suffix>`` (the image
file's original bytes), ``<key>.txt`` (its captions, one a line) and ``<key>.json``
(``{"captions": [...], "source": "<original path>"}``). Shards and ``index.json`` (sample
offsets and captions for random access) are written into a hidden staging folder that then
replaces the output folder as a whole (:func:`rs_vlm.atomic.atomic_folder`): a run killed at
any point leaves the previous shard set, index included, exactly as it was, and never a mix of
old and new shards.

Example::

    rs-vlm shard data/rsicd/train.csv --output data/rsicd-shards --samples-per-shard 1000
"""

import io
import json
import logging
import sys
import tarfile
import time
from collections.abc import Sequence
from pathlib import Path

from rs_vlm.atomic import atomic_folder
from rs_vlm.console import CommandParser
from rs_vlm.datasets.caption_corpus import CaptionCorpus
from rs_vlm.datasets.caption_csv import CaptionCSVDataset
from rs_vlm.datasets.caption_jsonl import JSONLCaptionDataset
from rs_vlm.datasets.caption_karpathy import KarpathyCaptionDataset
from rs_vlm.datasets.caption_precomp import PrecompCaptionDataset
from rs_vlm.datasets.webdataset_shards import INDEX_NAME, ShardSample
from rs_vlm.errors import InputError, OutputPathError
from rs_vlm.io.decoding import read_encoded_image
from rs_vlm.output_paths import check_output_paths

__all__ = ['main', 'open_corpus', 'write_shards']

logger = logging.getLogger('rs_vlm.datasets')


def open_corpus(
    path: Path,
    *,
    image_dir: Path | None = None,
    filenames: Path | None = None,
    split: str | None = None,
    on_error: str = 'raise',
) -> CaptionCorpus:
    """Open any supported corpus file by its suffix (CSV/TSV, JSONL, Karpathy JSON, precomp).

    Args:
        path: The corpus file (precomp: the ``*_caps.txt`` file).
        image_dir: Image folder (JSONL/Karpathy/precomp; default: the file's folder).
        filenames: The precomp ``*_filename.txt`` (default: ``caps`` -> ``filename``).
        split: Karpathy JSON split to keep.
        on_error: ``'raise'`` or ``'skip'``.

    Returns:
        The corpus in retrieval mode.
    """
    suffix = path.suffix.lower()
    common = {'mode': 'retrieval', 'image_size': None, 'on_error': on_error}
    folder = image_dir or path.parent
    if suffix in ('.csv', '.tsv'):
        return CaptionCSVDataset(path, **common)  # type: ignore[arg-type]
    if suffix == '.jsonl':
        return JSONLCaptionDataset(path, folder, **common)  # type: ignore[arg-type]
    if suffix == '.json':
        return KarpathyCaptionDataset(path, folder, split, **common)  # type: ignore[arg-type]
    if suffix == '.txt':
        names = filenames or path.with_name(path.name.replace('_caps', '_filename'))
        return PrecompCaptionDataset(path, names, folder, **common)  # type: ignore[arg-type]
    raise InputError(path, 'unknown corpus type; expected .csv, .tsv, .jsonl, .json or .txt')


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    archive.addfile(info, io.BytesIO(data))


def write_shards(
    corpus: CaptionCorpus, output: Path, samples_per_shard: int = 1000, prefix: str = 'shard'
) -> list[Path]:
    """Write ``corpus`` into ``output/<prefix>-000000.tar`` ... plus ``index.json``.

    Args:
        corpus: A caption corpus (its ``image_paths`` and ``image_captions`` are used).
        output: Output folder.
        samples_per_shard: Images per shard.
        prefix: Shard file name prefix (letters, digits, ``-`` and ``_``).

    Returns:
        The shard files.

    Raises:
        ValueError: Bad ``samples_per_shard`` or ``prefix``.
        InputError: A file that is not an image or over the size limit (checked from its
            first bytes and size before it is read; counted and skipped with ``on_error
            'skip'`` of the corpus).
        OutputPathError: ``output`` is a file, or a folder holding other files than a shard
            set (it is replaced as a whole).
    """
    if samples_per_shard < 1:
        raise ValueError('samples_per_shard must be at least 1')
    if not prefix or not all(c.isalnum() or c in '-_' for c in prefix):
        raise ValueError(f'prefix must be letters, digits, "-" or "_", got {prefix!r}')
    _check_replaceable(output)
    shards: list[Path] = []
    index: list[ShardSample] = []
    now = time.time()
    total = len(corpus.image_paths)
    with atomic_folder(output) as staging:
        for start in range(0, total, samples_per_shard):
            shard = staging / f'{prefix}-{start // samples_per_shard:06d}.tar'
            with tarfile.open(shard, 'w', format=tarfile.USTAR_FORMAT) as archive:
                for number in range(start, min(start + samples_per_shard, total)):
                    path = corpus.image_paths[number]
                    captions = corpus.image_captions[number]
                    key = f'{number:09d}'
                    suffix = path.suffix.lower().lstrip('.')
                    suffix = 'jpg' if suffix == 'jpeg' else suffix
                    image_name = f'{key}.{suffix}'
                    try:
                        data = read_encoded_image(path)
                    except (InputError, OSError) as error:
                        reason = error.reason if isinstance(error, InputError) else str(error)
                        corpus.policy.handle(path, reason, cause=error)
                        continue
                    # A USTAR header with a short name is one 512-byte block before the data.
                    index.append(
                        (shard.name, image_name, archive.offset + 512, len(data), captions)
                    )
                    _add_bytes(archive, image_name, data, now)
                    _add_bytes(archive, f'{key}.txt', '\n'.join(captions).encode(), now)
                    document = {'captions': captions, 'source': str(path)}
                    _add_bytes(archive, f'{key}.json', json.dumps(document).encode(), now)
            shards.append(output / shard.name)
        with open(staging / INDEX_NAME, 'w', encoding='utf-8') as handle:
            json.dump({'samples': index, 'shards': [s.name for s in shards]}, handle)
    return shards


def _check_replaceable(output: Path) -> None:
    """Refuse to replace a folder that holds anything but a shard set (it is replaced whole)."""
    if not output.exists():
        return
    if not output.is_dir():
        raise OutputPathError(output, '--output is a file; expected a folder for the shards')
    others = sorted(
        entry.name
        for entry in output.iterdir()
        if not (entry.is_file() and (entry.suffix == '.tar' or entry.name == INDEX_NAME))
    )
    if others:
        shown = ', '.join(others[:5]) + (f' and {len(others) - 5} more' if len(others) > 5 else '')
        raise OutputPathError(
            output,
            f'--output holds other files than tar shards and {INDEX_NAME} ({shown}); the '
            'folder is replaced as a whole, so choose an empty or new folder',
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rs-vlm shard``.

    Args:
        argv: Command-line arguments after ``shard``.

    Returns:
        The exit code (0 on success, 1 on bad input).
    """
    parser = CommandParser(
        prog='rs-vlm shard', description='Write a caption corpus as WebDataset tar shards.'
    )
    parser.add_argument('corpus', type=Path, help='.csv/.tsv, .jsonl, Karpathy .json or *_caps.txt')
    parser.add_argument('--output', type=Path, required=True, help='output folder')
    parser.add_argument('--samples-per-shard', type=int, default=1000)
    parser.add_argument('--prefix', default='shard')
    parser.add_argument('--image-dir', type=Path, help='image folder (default: corpus folder)')
    parser.add_argument('--filenames', type=Path, help='precomp *_filename.txt')
    parser.add_argument('--split', help='Karpathy JSON split to keep (train/val/test)')
    parser.add_argument('--on-error', choices=('raise', 'skip'), default='raise')
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    try:
        check_output_paths(
            {'--output': args.output},
            {
                'corpus': args.corpus,
                '--image-dir': args.image_dir or args.corpus.parent,
                '--filenames': args.filenames,
            },
            replaced=['--output'],
        )
        corpus = open_corpus(
            args.corpus,
            image_dir=args.image_dir,
            filenames=args.filenames,
            split=args.split,
            on_error=args.on_error,
        )
        shards = write_shards(corpus, args.output, args.samples_per_shard, args.prefix)
    except (InputError, ValueError) as error:
        print(f'rs-vlm shard: {error}', file=sys.stderr)
        return 1
    print(
        f'wrote {len(corpus)} samples ({len(corpus.captions)} captions) into {len(shards)} '
        f'shards under {args.output}; skipped {corpus.num_skipped} bad inputs'
    )
    return 0
