"""Caption corpus files and the conversion summary, written atomically.

* CSV / TSV (open_clip's ``--csv-img-key filepath --csv-caption-key title``): a header
  ``filepath,title`` then five rows per image, one caption each. ``.tsv`` outputs use tabs
  (open_clip's default separator).
* JSONL: one ``{"filepath": ..., "captions": [5 captions]}`` object per line.
* Summary JSON: images and objects written, captions, images skipped by reason, boxes dropped
  by reason, and the first error messages.

Files are written to a temporary file and renamed on success, so an interrupted or failed run
never leaves a partial corpus under the final name, and re-running overwrites cleanly.
"""

import csv
import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rs_vlm.atomic import atomic_write

__all__ = ['ConversionSummary', 'CorpusWriter', 'corpus_path']

#: Most error messages kept in the summary (counts are always complete).
MAX_ERRORS = 100


@dataclass
class ConversionSummary:
    """What a conversion wrote and what it left out.

    Attributes:
        images: Images written to the corpus.
        objects: Boxes behind the captions of the written images.
        captions: Captions written (five per image).
        skipped: Images left out, by reason (``'no objects'``, ``'malformed annotation'``,
            ``'unreadable image'``...).
        dropped_boxes: Boxes dropped while reading, by reason (``'degenerate box'``,
            ``'outside image'``, ``'difficult'``, ``'ignored region'``...).
        errors: The first :data:`MAX_ERRORS` error messages, each naming file and line/key.
    """

    images: int = 0
    objects: int = 0
    captions: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    dropped_boxes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def skip(self, reason: str, message: str | None = None) -> None:
        """Count one skipped image (and keep its error message, up to the limit)."""
        self.skipped[reason] += 1
        if message is not None and len(self.errors) < MAX_ERRORS:
            self.errors.append(message)

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-ready data."""
        return {
            'images': self.images,
            'objects': self.objects,
            'captions': self.captions,
            'skipped': dict(sorted(self.skipped.items())),
            'skipped_total': sum(self.skipped.values()),
            'dropped_boxes': dict(sorted(self.dropped_boxes.items())),
            'errors': list(self.errors),
        }

    def write(self, path: str | Path) -> None:
        """Write the summary as JSON (atomically)."""
        with atomic_write(path) as handle:
            json.dump(self.to_dict(), handle, indent=2)
            handle.write('\n')


def corpus_path(image: str | Path, output: str | Path, *, absolute: bool = False) -> str:
    """The ``filepath`` entry of an image in a corpus written to ``output``.

    Relative to the corpus folder when the image lies below it, else absolute;
    ``absolute=True`` always writes absolute paths.
    """
    image = Path(image).absolute()
    folder = Path(output).absolute().parent
    if not absolute and image.is_relative_to(folder):
        return image.relative_to(folder).as_posix()
    return os.path.normpath(image)


class CorpusWriter:
    """Write a caption corpus; use as a context manager so the file appears only on success.

    Args:
        output: ``.csv``, ``.tsv`` or (with ``jsonl``) any name.
        jsonl: Write JSON lines (five captions per object) instead of CSV rows.
    """

    def __init__(self, output: str | Path, *, jsonl: bool = False) -> None:
        self.output = Path(output)
        self.jsonl = jsonl
        self._context: Any = None
        self._handle: IO[str] | None = None
        self._rows: Any = None

    def __enter__(self) -> 'CorpusWriter':
        self._context = atomic_write(self.output, newline='' if not self.jsonl else None)
        self._handle = self._context.__enter__()
        if not self.jsonl:
            delimiter = '\t' if self.output.suffix.lower() == '.tsv' else ','
            self._rows = csv.writer(self._handle, delimiter=delimiter, lineterminator='\n')
            self._rows.writerow(['filepath', 'title'])
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._context.__exit__(*exc_info)

    def write(self, filepath: str, captions: Sequence[str]) -> None:
        """Add one image with its captions."""
        if self.jsonl:
            assert self._handle is not None
            self._handle.write(json.dumps({'filepath': filepath, 'captions': list(captions)}))
            self._handle.write('\n')
        else:
            self._rows.writerows([filepath, caption] for caption in captions)

    def write_many(self, items: Iterable[tuple[str, Sequence[str]]]) -> None:
        """Add many images with their captions."""
        for filepath, captions in items:
            self.write(filepath, captions)
