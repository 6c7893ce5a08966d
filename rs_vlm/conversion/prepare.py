"""``rs-vlm prepare``: the paper's training mixture from the raw downloads under one data root.

For each of the 17 sources (:data:`~.sources.SOURCES`) found in its release layout:

1. RET-3 sources keep the human captions of their train split; DET-10 sources go through
   Box-to-Caption; SEG-4 masks through Mask-to-Box, then Box-to-Caption.
2. Training images within pHash Hamming distance < 2 of a test image of any evaluation
   benchmark present (RET-3 test splits, the 12 zero-shot scene sets) are dropped.
3. One corpus per source is written (``<output>/<name>.tsv`` by default: absolute paths, tabs,
   ``filepath``/``title``: open_clip's own defaults), with ``<name>.summary.json``, then
   ``mixture.json`` (the manifest :class:`~rs_vlm.datamodules.PreparedMixtureDataModule` reads)
   and ``summary.md`` (images and captions per source beside the paper's Table I).

Reading and hashing run in ``workers`` processes. A source whose inputs (file names, sizes,
modification times) and options are unchanged since its corpus was written is reused, not
converted again (``<name>.fingerprint``). Every file is written atomically.
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from rs_vlm.atomic import atomic_write
from rs_vlm.console import CommandParser
from rs_vlm.errors import AnnotationError, CorpusError, InputError

from .convert import convert_annotations
from .corpus_writer import ConversionSummary, CorpusWriter
from .dedup import find_near_duplicates, phash
from .reader_utils import safe_image_name
from .sources import SOURCES, Source, SourcePart

__all__ = [
    'MIXTURE_FORMAT',
    'PrepareResult',
    'SourceResult',
    'find_source_parts',
    'frames_folder',
    'main',
    'prepare_corpora',
    'summary_table',
]

#: ``format`` of the mixture manifest (read by ``rs_vlm.datamodules.read_mixture_manifest``).
MIXTURE_FORMAT = 'rs_vlm.mixture/1'
#: Changes when the output of a conversion changes for the same inputs and options.
_PIPELINE_VERSION = 1
#: Images one hashing task decodes.
_HASH_CHUNK = 64

CorpusFormat = Literal['tsv', 'csv', 'jsonl']


@dataclass
class SourceResult:
    """What ``prepare`` did with one source.

    Attributes:
        source: The source.
        status: ``'converted'``, ``'reused'`` (unchanged since the last run), ``'missing'``
            (not found in any release layout) or ``'failed'`` (bad input, see ``error``).
        corpus: The corpus written (None unless converted or reused).
        images: Images in the corpus.
        captions: Captions in the corpus.
        near_duplicates: Training images dropped as near-duplicates of test images.
        skipped: Images left out, by reason.
        expected: Where the source was looked for (for missing sources).
        error: The error message of a failed source.
    """

    source: Source
    status: str
    corpus: Path | None = None
    images: int = 0
    captions: int = 0
    near_duplicates: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    expected: list[str] = field(default_factory=list)
    error: str = ''


@dataclass
class PrepareResult:
    """All sources' results, the manifest and the summary table.

    Attributes:
        sources: One result per source, in :data:`SOURCES` order.
        manifest: The mixture manifest (None when no source was found).
        table: The summary table (Markdown).
        test_images: Test images the training images were checked against.
    """

    sources: list[SourceResult]
    manifest: Path | None
    table: str
    test_images: int = 0


def frames_folder(output: Path, source: Source) -> Path:
    """Where ``prepare`` writes the frames it decodes from a video source's videos."""
    return output / 'frames' / source.name


def find_source_parts(source: Source, data_root: Path) -> tuple[SourcePart, ...] | None:
    """The parts present of the first release layout found under ``data_root`` (None: none)."""
    for layout in source.layouts:
        present = tuple(part for part in layout if (data_root / part.annotations).exists())
        if present:
            return present
    return None


def _expected(source: Source) -> list[str]:
    note = f' ({source.note})' if source.note else ''
    return [' + '.join(part.annotations for part in layout) + note for layout in source.layouts]


def _file_stats(paths: Iterable[Path]) -> Iterator[tuple[str, int, int]]:
    """(path, size, mtime) of every file below each path, sorted within each."""
    for path in paths:
        if path.is_file():
            stat = path.stat()
            yield str(path), stat.st_size, stat.st_mtime_ns
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    stat = os.stat(os.path.join(root, name))
                    yield os.path.join(root, name), stat.st_size, stat.st_mtime_ns


def _fingerprint(payload: dict[str, Any], paths: Iterable[Path]) -> str:
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    for entry in _file_stats(paths):
        digest.update(repr(entry).encode())
    return digest.hexdigest()


def _hash_chunk(paths: Sequence[str]) -> list[tuple[int | None, str]]:
    """PHash of some images (worker process): (hash, '') or (None, error message)."""
    hashes: list[tuple[int | None, str]] = []
    for path in paths:
        try:
            hashes.append((phash(path), ''))
        except (OSError, ValueError, SyntaxError) as error:
            hashes.append((None, f'{path}: cannot read image: {error}'))
    return hashes


def _hash_images(
    paths: Sequence[str], workers: int, progress: bool, desc: str
) -> list[tuple[int | None, str]]:
    chunks = [paths[i : i + _HASH_CHUNK] for i in range(0, len(paths), _HASH_CHUNK)]
    bar = tqdm(
        total=len(paths),
        desc=desc,
        unit='image',
        disable=None if progress else True,
        file=sys.stderr,
    )
    results: list[tuple[int | None, str]] = []
    with bar:
        if workers <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                results.extend(_hash_chunk(chunk))
                bar.update(len(chunk))
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for chunk, hashed in zip(chunks, pool.map(_hash_chunk, chunks)):
                    results.extend(hashed)
                    bar.update(len(chunk))
    return results


def _test_images(data_root: Path) -> list[str]:
    """Test images of the evaluation benchmarks present (absent ones warn and are skipped)."""
    # Imported here: the dataset classes bring torch and torchgeo, which conversion avoids.
    from rs_vlm.datasets.benchmark_roots import (
        present_retrieval_benchmarks,
        present_zero_shot_benchmarks,
    )

    images: list[str] = []
    for dataset in present_retrieval_benchmarks(data_root, check_files=False).values():
        images.extend(str(p) for p in dataset.image_paths if Path(p).is_file())  # type: ignore[attr-defined]
    for dataset in present_zero_shot_benchmarks(data_root).values():
        images.extend(str(p) for p in dataset.files)  # type: ignore[attr-defined]
    return sorted(set(images))


def _test_hashes(images: list[str], output: Path, workers: int, progress: bool) -> np.ndarray:
    """PHash of the test images, cached in ``output`` while the files are unchanged."""
    if not images:
        return np.zeros(0, dtype=np.uint64)
    cache = output / '.test-hashes.npz'
    key = _fingerprint({'version': _PIPELINE_VERSION}, map(Path, images))
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as saved:
                if str(saved['key']) == key:
                    return saved['hashes'].astype(np.uint64)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is recomputed
    hashed = _hash_images(images, workers, progress, 'pHash test images')
    hashes = np.array([h for h, _ in hashed if h is not None], dtype=np.uint64)
    with atomic_write(cache, mode='wb') as handle:
        np.savez(handle, key=np.array(key), hashes=hashes)
    return hashes


def _caption_records(
    part: SourcePart, data_root: Path, summary: ConversionSummary, on_error: str
) -> list[tuple[str, list[str]]]:
    """The train split of a RET-3 benchmark as (image path, captions), images checked."""
    from rs_vlm.datasets.bad_input import BadInputPolicy
    from rs_vlm.datasets.caption_readers import read_karpathy_json, read_precomp

    root = data_root / part.annotations
    policy = BadInputPolicy('skip' if on_error == 'skip' else 'raise')
    json_files = sorted(root.glob('dataset_*.json'))
    if json_files:
        names, captions, _ = read_karpathy_json(json_files[0], policy, split='train')
    else:
        names, captions, _ = read_precomp(
            root / 'train_caps.txt', root / 'train_filename.txt', policy
        )
    records = []
    for name, texts in zip(names, captions):
        try:
            safe_image_name(name, root, key='filename')
        except AnnotationError as error:
            if on_error != 'skip':
                raise
            summary.skip('malformed annotation', str(error))
            continue
        image = root / 'images' / name
        if not image.is_file():
            message = f'{root}: image {name!r} not found in {root / "images"}'
            if on_error != 'skip':
                raise AnnotationError(root, f'image {name!r} not found in {root / "images"}')
            summary.skip('image not found', message)
            continue
        records.append((str(image.absolute()), list(texts)))
    return records


def _converted_records(
    source: Source,
    part: SourcePart,
    data_root: Path,
    output: Path,
    work: Path,
    index: int,
    summary: ConversionSummary,
    *,
    seed: int,
    on_error: str,
    workers: int,
    progress: bool,
) -> list[tuple[str, list[str]]]:
    """One part through the converter, read back as (image path, captions)."""
    part_corpus = work / f'{source.name}.{index}.jsonl'
    extra: dict[str, Any] = {}
    if source.format == 'stanford_drone':
        # Frames decoded from videos are images of the corpus: they live beside it.
        extra['frames'] = frames_folder(output, source)
    part_summary = convert_annotations(
        source.format,
        data_root / part.annotations,
        part_corpus,
        images=part.image_folders(data_root),
        summary=work / f'{source.name}.{index}.summary.json',
        seed=seed,
        on_error=on_error,  # type: ignore[arg-type]
        workers=workers,
        progress=progress,
        absolute_paths=True,
        **dict(source.options),
        **extra,
    )
    summary.objects += part_summary.objects
    summary.skipped.update(part_summary.skipped)
    summary.dropped_boxes.update(part_summary.dropped_boxes)
    summary.errors.extend(part_summary.errors[: max(0, 100 - len(summary.errors))])
    with open(part_corpus, encoding='utf-8') as handle:
        return [(row['filepath'], row['captions']) for row in map(json.loads, handle)]


def _convert_source(
    source: Source,
    parts: tuple[SourcePart, ...],
    data_root: Path,
    output: Path,
    corpus: Path,
    test_hashes: np.ndarray,
    *,
    corpus_format: CorpusFormat,
    seed: int,
    on_error: str,
    threshold: int,
    workers: int,
    progress: bool,
) -> SourceResult:
    summary = ConversionSummary()
    with tempfile.TemporaryDirectory(dir=output, prefix=f'.{source.name}.') as work_dir:
        records: list[tuple[str, list[str]]] = []
        for index, part in enumerate(parts):
            if source.format == 'captions':
                records += _caption_records(part, data_root, summary, on_error)
            else:
                records += _converted_records(
                    source,
                    part,
                    data_root,
                    output,
                    Path(work_dir),
                    index,
                    summary,
                    seed=seed,
                    on_error=on_error,
                    workers=workers,
                    progress=progress,
                )
    duplicates = 0
    if len(test_hashes) and records:
        hashed = _hash_images(
            [path for path, _ in records], workers, progress, f'pHash {source.name}'
        )
        kept_records, hashes = [], []
        for record, (value, message) in zip(records, hashed):
            if value is None:
                if on_error != 'skip':
                    raise AnnotationError(record[0], message.split(': ', 1)[-1])
                summary.skip('unreadable image', message)
                continue
            kept_records.append(record)
            hashes.append(value)
        pairs = find_near_duplicates(
            np.array(hashes, dtype=np.uint64), test_hashes, max_distance=threshold - 1
        )
        near = set(pairs[:, 0].tolist())
        duplicates = len(near)
        records = [record for i, record in enumerate(kept_records) if i not in near]
        if duplicates:
            summary.skipped['near-duplicate of a test image'] += duplicates
    with CorpusWriter(corpus, jsonl=corpus_format == 'jsonl') as writer:
        for path, captions in records:
            writer.write(path, captions)
            summary.images += 1
            summary.captions += len(captions)
    summary.write(corpus.with_name(corpus.name + '.summary.json'))
    return SourceResult(
        source,
        'converted',
        corpus=corpus,
        images=summary.images,
        captions=summary.captions,
        near_duplicates=duplicates,
        skipped=dict(summary.skipped),
    )


def summary_table(results: Sequence[SourceResult]) -> str:
    """Images and captions per source beside the paper's Table I, as a Markdown table."""
    lines = [
        '| group | source | images | captions | near-duplicates dropped | other skips '
        '| Table I images | status |',
        '|---|---|---:|---:|---:|---:|---:|---|',
    ]
    total_images = total_captions = 0
    for result in results:
        source = result.source
        other = sum(v for k, v in result.skipped.items() if k != 'near-duplicate of a test image')
        total_images += result.images
        total_captions += result.captions
        lines.append(
            f'| {source.group} | {source.title} | {result.images:,} | {result.captions:,} '
            f'| {result.near_duplicates:,} | {other:,} | {source.paper_images or 0:,} '
            f'| {result.status} |'
        )
    paper = sum(s.paper_images or 0 for s in (r.source for r in results))
    lines.append(
        f'| all | total | {total_images:,} | {total_captions:,} | | | {paper:,} '
        '(paper: 165,745 images, 828,725 captions) | |'
    )
    return '\n'.join(lines) + '\n'


def prepare_corpora(
    data_root: str | Path,
    output: str | Path,
    *,
    sources: Sequence[str] | None = None,
    corpus_format: CorpusFormat = 'tsv',
    workers: int = 1,
    seed: int = 0,
    on_error: Literal['raise', 'skip'] = 'skip',
    dedup: bool = True,
    threshold: int = 2,
    progress: bool = True,
    force: bool = False,
) -> PrepareResult:
    """Build the paper's training mixture from the downloads under ``data_root``.

    Args:
        data_root: Folder holding the downloads in their release layouts (``docs/data.md``).
        output: Folder for the corpora, ``mixture.json`` and ``summary.md``.
        sources: Source names to prepare (default: all 17 of :data:`SOURCES`).
        corpus_format: ``'tsv'`` (open_clip's default separator), ``'csv'`` or ``'jsonl'``.
        workers: Processes reading annotations and hashing images.
        seed: Seed of Box-to-Caption's choices.
        on_error: ``'skip'`` counts bad annotations and images per reason; ``'raise'`` stops
            the source at the first (the source is reported failed, the others go on).
        dedup: Drop training images near-duplicate to test images of the benchmarks present.
        threshold: Duplicate when the pHash Hamming distance is below this.
        progress: Show progress bars on stderr.
        force: Convert every source again even when its inputs are unchanged.

    Returns:
        Per-source results, the manifest path and the summary table.

    Raises:
        InputError: A missing data root, an output folder equal to or holding the data
            root, or an unknown source name.
    """
    data_root, output = Path(data_root), Path(output)
    if not data_root.is_dir():
        raise InputError(data_root, 'data root not found: expected a folder of downloads')
    if output.absolute() == data_root.absolute() or data_root.absolute().is_relative_to(
        output.absolute()
    ):
        raise InputError(output, 'the output folder must not be the data root or hold it')
    known = {source.name: source for source in SOURCES}
    unknown = sorted(set(sources or ()) - set(known))
    if unknown:
        raise InputError(data_root, f'unknown sources {unknown}; expected some of {list(known)}')
    if workers < 1 or not 1 <= threshold <= 64:
        raise ValueError('workers must be >= 1 and threshold in 1..64')
    chosen = [known[name] for name in sources] if sources else list(SOURCES)
    output.mkdir(parents=True, exist_ok=True)
    suffix = '.' + corpus_format

    found = {source.name: find_source_parts(source, data_root) for source in chosen}
    test_images = _test_images(data_root) if dedup and any(found.values()) else []
    test_hashes = _test_hashes(test_images, output, workers, progress)
    test_key = hashlib.sha256(test_hashes.tobytes()).hexdigest()

    results: list[SourceResult] = []
    for source in chosen:
        parts = found[source.name]
        if parts is None:
            results.append(SourceResult(source, 'missing', expected=_expected(source)))
            continue
        corpus = output / f'{source.name}{suffix}'
        stamp = output / f'{source.name}.fingerprint'
        summary_file = corpus.with_name(corpus.name + '.summary.json')
        inputs: list[Path] = []
        for part in parts:
            inputs.append(data_root / part.annotations)
            inputs.extend(part.image_folders(data_root) or ())
        fingerprint = _fingerprint(
            {
                'version': _PIPELINE_VERSION,
                'source': source.name,
                'format': source.format,
                'options': dict(source.options),
                'parts': [(p.annotations, p.images) for p in parts],
                'seed': seed,
                'on_error': on_error,
                'corpus_format': corpus_format,
                'threshold': threshold if dedup else None,
                'test_hashes': test_key,
            },
            inputs,
        )
        if (
            not force
            and corpus.is_file()
            and summary_file.is_file()
            and stamp.is_file()
            and stamp.read_text().strip() == fingerprint
            # frames decoded from videos must still be there for the corpus to be reused
            and (source.format != 'stanford_drone' or frames_folder(output, source).is_dir())
        ):
            saved = json.loads(summary_file.read_text())
            skipped = dict(saved.get('skipped', {}))
            results.append(
                SourceResult(
                    source,
                    'reused',
                    corpus=corpus,
                    images=saved['images'],
                    captions=saved['captions'],
                    near_duplicates=skipped.get('near-duplicate of a test image', 0),
                    skipped=skipped,
                )
            )
            continue
        stamp.unlink(missing_ok=True)  # a run killed mid-source must not look finished
        try:
            result = _convert_source(
                source,
                parts,
                data_root,
                output,
                corpus,
                test_hashes,
                corpus_format=corpus_format,
                seed=seed,
                on_error=on_error,
                threshold=threshold,
                workers=workers,
                progress=progress,
            )
        except (InputError, CorpusError) as error:
            results.append(SourceResult(source, 'failed', error=str(error)))
            continue
        with atomic_write(stamp) as handle:
            handle.write(fingerprint + '\n')
        results.append(result)

    written = [r for r in results if r.corpus is not None and r.images > 0]
    manifest = None
    if written:
        manifest = output / 'mixture.json'
        document = {
            'format': MIXTURE_FORMAT,
            'data_root': str(data_root.absolute()),
            'corpora': [
                {
                    'name': r.source.name,
                    'path': r.corpus.name,  # type: ignore[union-attr]
                    'group': r.source.group,
                    'images': r.images,
                    'captions': r.captions,
                }
                for r in written
            ],
        }
        with atomic_write(manifest) as handle:
            json.dump(document, handle, indent=2)
            handle.write('\n')
    table = summary_table(results)
    with atomic_write(output / 'summary.md') as handle:
        handle.write(table)
    return PrepareResult(results, manifest, table, test_images=len(test_images))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rs-vlm prepare``."""
    parser = CommandParser(
        prog='rs-vlm prepare',
        description="Build RemoteCLIP's training mixture (RET-3 + DET-10 + SEG-4) from the "
        'downloads under a data root: one corpus per source, mixture.json, summary.md.',
    )
    parser.add_argument('--data-root', type=Path, required=True, help='folder of downloads')
    parser.add_argument('--output', type=Path, required=True, help='folder for the corpora')
    parser.add_argument(
        '--sources',
        nargs='+',
        choices=[s.name for s in SOURCES],
        metavar='NAME',
        help='sources to prepare (default: all 17): ' + ', '.join(s.name for s in SOURCES),
    )
    parser.add_argument(
        '--corpus-format',
        choices=('tsv', 'csv', 'jsonl'),
        default='tsv',
        help="tsv (default): open_clip's default separator; absolute paths in every format",
    )
    parser.add_argument(
        '--workers', type=int, default=os.cpu_count() or 1, help='processes (default: all cores)'
    )
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--on-error', choices=('raise', 'skip'), default='skip')
    parser.add_argument('--no-dedup', action='store_true', help='keep near-duplicates of tests')
    parser.add_argument('--threshold', type=int, default=2, help='duplicate if distance < this')
    parser.add_argument('--force', action='store_true', help='convert unchanged sources again')
    parser.add_argument('--no-progress', action='store_true')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``rs-vlm prepare`` (see the module docstring).

    Returns:
        0 when every source found was prepared, 1 when one failed or none was found.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error('--workers must be >= 1')
    if not 1 <= args.threshold <= 64:
        parser.error('--threshold must be in 1..64')
    try:
        result = prepare_corpora(
            args.data_root,
            args.output,
            sources=args.sources,
            corpus_format=args.corpus_format,
            workers=args.workers,
            seed=args.seed,
            on_error=args.on_error,
            dedup=not args.no_dedup,
            threshold=args.threshold,
            progress=not args.no_progress,
            force=args.force,
        )
    except InputError as error:
        print(f'rs-vlm prepare: error: {error}', file=sys.stderr)
        return 1
    print(result.table)
    missing = [r for r in result.sources if r.status == 'missing']
    if missing:
        print(f'{len(missing)} sources not found under {args.data_root}:')
        for r in missing:
            print(f'  {r.source.title}: expected ' + ' or '.join(r.expected))
    failed = [r for r in result.sources if r.status == 'failed']
    for r in failed:
        print(f'rs-vlm prepare: error: {r.source.title}: {r.error}', file=sys.stderr)
    if result.manifest is not None:
        print(
            f'mixture manifest: {result.manifest} ({result.test_images} test images checked '
            'for near-duplicates)'
        )
    else:
        print(f'rs-vlm prepare: no source found under {args.data_root}', file=sys.stderr)
    return 1 if failed or result.manifest is None else 0
