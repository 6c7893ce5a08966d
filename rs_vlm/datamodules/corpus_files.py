"""Caption corpus files by suffix, and the mixture manifest ``rs-vlm prepare`` writes.

* ``.csv`` / ``.tsv``: open_clip's ``filepath``/``title`` rows
  (:class:`~rs_vlm.datasets.CaptionCSVDataset`, separator sniffed).
* ``.jsonl``: ``{"filepath" (or "filename"), "captions"}`` objects
  (:class:`~rs_vlm.datasets.JSONLCaptionDataset`).
* ``mixture.json``: ``{"format": "rs_vlm.mixture/1", "corpora": [{"name", "path", "group",
  "images", "captions"}, ...]}`` with paths relative to the manifest's folder.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rs_vlm.datasets.bad_input import OnError
from rs_vlm.datasets.caption_corpus import CaptionCorpus
from rs_vlm.datasets.caption_csv import CaptionCSVDataset
from rs_vlm.datasets.caption_jsonl import JSONLCaptionDataset
from rs_vlm.errors import CorpusError

__all__ = [
    'CORPUS_SUFFIXES',
    'MIXTURE_FORMAT',
    'MixtureEntry',
    'open_caption_corpus',
    'read_mixture_manifest',
]

#: Corpus file suffixes the datamodules read.
CORPUS_SUFFIXES = ('.csv', '.tsv', '.jsonl')
#: The ``format`` value of a mixture manifest.
MIXTURE_FORMAT = 'rs_vlm.mixture/1'


def open_caption_corpus(
    path: str | Path,
    *,
    image_key: str | None = None,
    caption_key: str | None = None,
    on_error: OnError = 'raise',
    **kwargs: Any,
) -> CaptionCorpus:
    """Open a corpus file with the reader its suffix names.

    Args:
        path: ``.csv``, ``.tsv`` or ``.jsonl`` corpus.
        image_key: Image path column/key (None: ``filepath``; JSONL also ``filename``).
        caption_key: Caption column (CSV/TSV, default ``title``) or caption list key (JSONL,
            default ``captions``).
        on_error: ``'raise'`` or ``'skip'``.
        **kwargs: Other dataset arguments (``mode``, ``image_size``, ``tokenizer``, ``seed``).

    Returns:
        The dataset.

    Raises:
        CorpusError: For another suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == '.jsonl':
        return JSONLCaptionDataset(
            path,
            image_key=image_key,
            captions_key=caption_key or 'captions',
            on_error=on_error,
            **kwargs,
        )
    if suffix in ('.csv', '.tsv'):
        return CaptionCSVDataset(
            path,
            image_key=image_key or 'filepath',
            caption_key=caption_key or 'title',
            on_error=on_error,
            **kwargs,
        )
    raise CorpusError(path, f'unknown corpus suffix {suffix!r}; expected one of {CORPUS_SUFFIXES}')


@dataclass(frozen=True)
class MixtureEntry:
    """One corpus of a mixture manifest.

    Attributes:
        name: Source name (``rsicd``, ``dota``).
        path: The corpus file (absolute).
        group: ``RET-3``, ``DET-10`` or ``SEG-4``.
        images: Images in the corpus.
        captions: Captions in the corpus.
    """

    name: str
    path: Path
    group: str
    images: int
    captions: int


def read_mixture_manifest(path: str | Path) -> list[MixtureEntry]:
    """The corpora of a mixture manifest, in file order.

    Raises:
        CorpusError: Unreadable or malformed manifest (naming the key), or a listed corpus
            that is missing.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise CorpusError(
            path, 'mixture manifest not found; write it with `rs-vlm prepare --output DIR`'
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise CorpusError(path, f'cannot read file: {error}') from None
    except (json.JSONDecodeError, RecursionError) as error:
        line = getattr(error, 'lineno', None)
        raise CorpusError(path, f'malformed JSON: {error}', line=line) from None
    if not isinstance(document, dict) or document.get('format') != MIXTURE_FORMAT:
        raise CorpusError(path, f'expected a JSON object with "format": "{MIXTURE_FORMAT}"')
    corpora = document.get('corpora')
    if not isinstance(corpora, list) or not corpora:
        raise CorpusError(path, 'expected a non-empty list of corpora', key='corpora')
    entries = []
    names: set[str] = set()
    for i, item in enumerate(corpora):
        key = f'corpora[{i}]'
        if not isinstance(item, dict):
            raise CorpusError(path, 'expected an object', key=key)
        name, file = item.get('name'), item.get('path')
        if not isinstance(name, str) or not name or name in names:
            raise CorpusError(
                path, f'expected a unique name string, got {name!r}', key=f'{key}.name'
            )
        if not isinstance(file, str) or Path(file).suffix.lower() not in CORPUS_SUFFIXES:
            raise CorpusError(
                path, f'expected a .csv/.tsv/.jsonl path, got {file!r}', key=f'{key}.path'
            )
        counts = [item.get('images', 0), item.get('captions', 0)]
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            raise CorpusError(path, 'images and captions must be counts', key=key)
        corpus = path.parent / file
        if not corpus.is_file():
            raise CorpusError(path, f'corpus {corpus} not found', key=f'{key}.path')
        names.add(name)
        entries.append(MixtureEntry(name, corpus.absolute(), str(item.get('group', '')), *counts))
    return entries
