"""Read what the prediction tools are given: class names, prompt templates and captions.

Class names and templates of our scene datasets come from :mod:`rs_vlm.datasets` (the ITRA
names and template ensembles RemoteCLIP was evaluated with), so ``--dataset AID`` classifies
with exactly the prompts of the zero-shot benchmark.
"""

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rs_vlm.csv_input import read_csv_table, sniff_delimiter
from rs_vlm.datasets.bad_input import BadInputPolicy
from rs_vlm.datasets.caption_readers import read_text_lines
from rs_vlm.datasets.scene_classes import DEFAULT_TEMPLATES, normalise_folder_name
from rs_vlm.errors import InputError
from rs_vlm.prompt_templates import check_template

__all__ = [
    'check_class_names',
    'dataset_classes',
    'dataset_names',
    'parse_class_list',
    'read_captions',
    'read_class_names',
    'read_templates',
]

_CAPTION_COLUMN = 'title'


def _datasets() -> dict[str, Any]:
    """Public name -> dataset class with ``classes`` / ``templates`` (imported when needed)."""
    from rs_vlm.datasets import ZERO_SHOT_DATASETS, UCMerced
    from rs_vlm.synthetic.aerial import SyntheticAerial

    return {**ZERO_SHOT_DATASETS, 'UCMerced': UCMerced, 'SyntheticAerial': SyntheticAerial}


def dataset_names() -> list[str]:
    """Names accepted by :func:`dataset_classes` (the ones of RemoteCLIP's tables)."""
    return list(_datasets())


def dataset_classes(name: str) -> tuple[list[str], list[str]]:
    """Class names and prompt templates of one of our scene datasets.

    Args:
        name: A table name (``AID``, ``RESISC45``, ``RS2800``, ``WHU-earth``, ``UCMerced``,
            ``SyntheticAerial``...), the dataset class name (``RSSCN7``, ``SIRIWHU``) or its
            short key (``rsscn7``, ``siriwhu``); case and punctuation are ignored.

    Returns:
        ``(classes, templates)``; label ``i`` of the dataset is ``classes[i]``.

    Raises:
        ValueError: If no dataset has that name.
    """
    from rs_vlm.datasets.scene_classes import CLASSES, TEMPLATES

    wanted = normalise_folder_name(name)
    for table_name, dataset_class in _datasets().items():
        key = getattr(dataset_class, 'name', '')
        aliases = {table_name, dataset_class.__name__, key if isinstance(key, str) else ''}
        if wanted in {normalise_folder_name(alias) for alias in aliases if alias}:
            if isinstance(key, str) and key in CLASSES:
                return list(CLASSES[key]), list(TEMPLATES[key])
            return list(dataset_class.classes), list(dataset_class.templates)
    raise ValueError(f'unknown dataset {name!r}; choose from {", ".join(dataset_names())}')


def check_class_names(names: Sequence[str], source: str | Path = '<classes>') -> list[str]:
    """Strip names and refuse an empty list, empty names and duplicates.

    Args:
        names: Class names.
        source: Where they came from, for error messages.

    Returns:
        The stripped names.

    Raises:
        InputError: Naming the source and the offending position (1-based).
    """
    cleaned = [name.strip() for name in names]
    if not cleaned:
        raise InputError(source, 'no class names; expected at least one')
    seen: dict[str, int] = {}
    for position, name in enumerate(cleaned, start=1):
        if not name:
            raise InputError(source, f'class {position} is empty; expected a class name')
        if name.lower() in seen:
            raise InputError(
                source, f'class {position} ({name!r}) repeats class {seen[name.lower()]}'
            )
        seen[name.lower()] = position
    return cleaned


def parse_class_list(text: str) -> list[str]:
    """Class names from a comma-separated string (``'forest, river,farmland'``).

    Args:
        text: Comma-separated names.

    Returns:
        The names.

    Raises:
        InputError: Empty or repeated names.
    """
    return check_class_names(text.split(','), source='--classes')


def _read_lines(path: Path) -> list[str | None]:
    if not path.is_file():
        raise InputError(path, 'no such file')
    return read_text_lines(path, BadInputPolicy('raise', InputError))


def _lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines of a UTF-8 file that are not ``#`` comments, with line numbers."""
    lines = _read_lines(path)
    return [
        (number, line.strip())
        for number, line in enumerate(lines, start=1)
        if line is not None and line.strip() and not line.lstrip().startswith('#')
    ]


def read_class_names(path: str | Path) -> list[str]:
    """Class names from a text file, one per line (blank lines and ``#`` comments ignored).

    Args:
        path: The file.

    Returns:
        The names, in file order (label ``i`` is line ``i`` of the names).

    Raises:
        InputError: Missing file, invalid UTF-8, no names, or a repeated name (with its line).
    """
    path = Path(path)
    entries = _lines(path)
    if not entries:
        raise InputError(path, 'no class names; expected one class name per line')
    first_line: dict[str, int] = {}
    for number, name in entries:
        if name.lower() in first_line:
            raise InputError(
                path, f'class {name!r} repeats line {first_line[name.lower()]}', line=number
            )
        first_line[name.lower()] = number
    return [name for _, name in entries]


def read_templates(source: str | Path | None) -> list[str]:
    """Prompt templates: ``None`` / ``'default'`` for RemoteCLIP's default ensemble, or a file.

    A template file holds one template per line with one ``{}`` slot for the class name
    (``an aerial photo of a {}.``); blank lines and ``#`` comments are ignored.

    Args:
        source: ``None``, ``'default'`` or a file path.

    Returns:
        The templates.

    Raises:
        InputError: Missing file, no templates, or a line without exactly one bare ``{}`` slot
            (format specs such as ``{:>9}``, names and indexes are refused).
    """
    if source is None or str(source) == 'default':
        return list(DEFAULT_TEMPLATES)
    path = Path(source)
    entries = _lines(path)
    if not entries:
        raise InputError(path, "no templates; expected one template per line with a '{}' slot")
    for number, template in entries:
        try:
            check_template(template)
        except ValueError as error:
            raise InputError(path, str(error), line=number) from None
    return [template for _, template in entries]


def read_captions(path: str | Path) -> list[str]:
    """Captions from a text file (one per line) or a CSV/TSV with a ``title`` column.

    A ``.csv`` / ``.tsv`` file, or any file whose first line has a ``title`` field, is read as a
    table (open_clip's caption CSV layout; other columns are ignored); anything else is one
    caption per line. Blank lines are ignored.

    Args:
        path: The file.

    Returns:
        The captions in file order.

    Raises:
        InputError: Missing file, invalid UTF-8, a table without ``title``, an empty caption in
            a table, or no captions at all (each with the line).
    """
    path = Path(path)
    text_lines = [line or '' for line in _read_lines(path)]
    header = text_lines[0] if text_lines else ''
    delimiter = sniff_delimiter(path, header)
    fields = [field.strip() for field in next(csv.reader([header], delimiter=delimiter), [])]
    is_table = path.suffix.lower() in ('.csv', '.tsv') or _CAPTION_COLUMN in fields
    captions: list[str] = []
    if is_table:
        table = read_csv_table(path, InputError, delimiter=delimiter, missing='no such file')
        fields = [field.strip() for field in table.header]
        if _CAPTION_COLUMN not in fields:
            raise InputError(
                path,
                f'missing column; header has {fields}, expected {_CAPTION_COLUMN!r}',
                line=1,
                key=_CAPTION_COLUMN,
            )
        column = fields.index(_CAPTION_COLUMN)
        for number, row in table.rows:
            if not row or all(not value.strip() for value in row):
                continue
            if len(row) <= column or not row[column].strip():
                raise InputError(path, 'empty caption', line=number, key=_CAPTION_COLUMN)
            captions.append(row[column].strip())
    else:
        captions = [line.strip() for line in text_lines if line.strip()]
    if not captions:
        raise InputError(path, 'no captions; expected one per line or a CSV with a title column')
    return captions
