"""Read the images of a caption corpus and write it again without some of them.

Corpora are the ones :mod:`rs_vlm.conversion.corpus_writer` and open_clip use: CSV/TSV with a
``filepath`` column (``.tsv`` tab-separated), or JSON lines with a ``filepath`` key. Relative
paths are relative to the corpus file's folder.
"""

import csv
import io
from collections.abc import Collection, Iterator
from pathlib import Path

from rs_vlm.atomic import atomic_write
from rs_vlm.csv_input import CSVTable
from rs_vlm.errors import CorpusError
from rs_vlm.json_input import parse_json

__all__ = ['CORPUS_SUFFIXES', 'corpus_images', 'drop_images_from_corpus']

CORPUS_SUFFIXES = ('.csv', '.tsv', '.jsonl')


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding='utf-8-sig')
    except OSError as error:
        raise CorpusError(path, f'cannot read corpus: {error.strerror or error}') from None
    except UnicodeDecodeError as error:
        raise CorpusError(path, f'not UTF-8 text (byte {error.start})') from None


def _rows(path: Path) -> Iterator[tuple[int, str, str | list[str]]]:
    """``(line, filepath, row)`` of every row.

    ``row`` is the raw JSON line, or the CSV fields (the CSV header comes first, as line 1).
    """
    text = _text(path)
    if path.suffix.lower() == '.jsonl':
        # Physical lines only: a JSON string may hold U+2028, which str.splitlines splits at.
        lines = (line.rstrip('\n') for line in io.StringIO(text, newline=None))
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            entry = parse_json(line, path, CorpusError, line=number)
            key = 'filepath' if isinstance(entry, dict) and 'filepath' in entry else 'filename'
            if not isinstance(entry, dict) or not isinstance(entry.get(key), str):
                raise CorpusError(
                    path, 'expected an object with a "filepath" (or "filename") string', line=number
                )
            yield number, entry[key], line
        return
    delimiter = '\t' if path.suffix.lower() == '.tsv' else ','
    if not text.strip():
        raise CorpusError(path, 'empty corpus: expected a header with "filepath"')
    table = CSVTable(path, text, CorpusError, delimiter)
    header = table.header
    if 'filepath' not in header:
        raise CorpusError(path, 'no "filepath" column in the header', line=1)
    column = header.index('filepath')
    yield 1, '', header
    for number, row in table.rows:
        if not row:
            continue
        if len(row) != len(header):
            raise CorpusError(path, f'expected {len(header)} fields, got {len(row)}', line=number)
        yield number, row[column], row


def _resolve(path: Path, filepath: str) -> Path:
    return (path.parent / filepath).absolute()


def corpus_images(path: str | Path) -> list[Path]:
    """The distinct images of a corpus, in order of first appearance (absolute paths).

    Raises:
        CorpusError: For an unreadable or malformed corpus (naming the line).
    """
    path = Path(path)
    seen: dict[Path, None] = {}
    rows = _rows(path)
    if path.suffix.lower() != '.jsonl':
        next(rows)  # header
    for _, filepath, _ in rows:
        seen.setdefault(_resolve(path, filepath), None)
    return list(seen)


def drop_images_from_corpus(
    path: str | Path, output: str | Path, drop: Collection[Path]
) -> tuple[int, int]:
    """Copy a corpus without the rows of some images (atomically; rows kept verbatim).

    Args:
        path: The corpus.
        output: Where to write the filtered corpus (may not be ``path`` itself: the input is
            read first, so it may).
        drop: Absolute image paths to leave out.

    Returns:
        Rows kept and rows dropped.

    Raises:
        CorpusError: For an unreadable or malformed corpus.
    """
    path = Path(path)
    dropped = {Path(p).absolute() for p in drop}
    rows = list(_rows(path))
    is_csv = path.suffix.lower() != '.jsonl'
    header, rows = (rows[0][2], rows[1:]) if is_csv else (None, rows)
    kept = [row for _, filepath, row in rows if _resolve(path, filepath) not in dropped]
    with atomic_write(output, newline='' if is_csv else None) as handle:
        if is_csv:
            delimiter = '\t' if path.suffix.lower() == '.tsv' else ','
            writer = csv.writer(handle, delimiter=delimiter, lineterminator='\n')
            writer.writerow(header)
            writer.writerows(kept)
        else:
            handle.writelines(f'{line}\n' for line in kept)
    return len(kept), len(rows) - len(kept)
