"""open_clip-style caption CSV/TSV: one (image, caption) pair per row."""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rs_vlm.csv_input import read_csv_table
from rs_vlm.datasets.bad_input import BadInputPolicy, OnError
from rs_vlm.datasets.caption_corpus import CaptionCorpus, CaptionMode, Tokenizer
from rs_vlm.errors import CorpusError

__all__ = ['CaptionCSVDataset', 'read_caption_csv']


def read_caption_csv(
    path: str | Path,
    *,
    image_key: str = 'filepath',
    caption_key: str = 'title',
    delimiter: str | None = None,
    policy: BadInputPolicy | None = None,
) -> tuple[list[Path], list[list[str]], list[int]]:
    """Read an open_clip CSV/TSV; rows sharing an image are grouped into one image.

    Relative image paths are resolved against the CSV's folder. Rows are parsed by the
    ``csv`` module on the whole text (see :mod:`rs_vlm.csv_input`): quoted captions may hold
    line breaks (kept), line numbers are physical lines, and a stray quote is an error naming
    the line where it opens.

    Args:
        path: The CSV or TSV file.
        image_key: Column with image paths.
        caption_key: Column with captions.
        delimiter: Field separator; sniffed from the suffix / header (tab or comma) when None.
        policy: Bad-row policy (``raise`` when None).

    Returns:
        ``(image_paths, captions_per_image, first_line_per_image)`` in order of first appearance.

    Raises:
        CorpusError: Missing columns, undecodable text, malformed CSV (always); empty
            captions (policy ``raise``).
    """
    path = Path(path)
    policy = policy or BadInputPolicy('raise')
    table = read_csv_table(path, CorpusError, delimiter=delimiter, missing='caption file not found')
    header = table.header
    for column in (image_key, caption_key):
        if column not in header:
            raise CorpusError(
                path,
                f'missing column; header has {header}, expected {column!r}',
                line=1,
                key=column,
            )
    image_column, caption_column = header.index(image_key), header.index(caption_key)
    folder = path.parent
    order: dict[str, int] = {}
    captions: list[list[str]] = []
    first_lines: list[int] = []
    for line_number, row in table.rows:
        if not row or all(not field.strip() for field in row):
            continue
        if len(row) <= max(image_column, caption_column):
            policy.handle(
                path, f'row has {len(row)} fields, expected {len(header)}', line=line_number
            )
            continue
        file_name, caption = row[image_column].strip(), row[caption_column].strip()
        if not file_name:
            policy.handle(path, 'empty image path', line=line_number, key=image_key)
            continue
        if not caption:
            policy.handle(path, 'empty caption', line=line_number, key=caption_key)
            continue
        if file_name not in order:
            order[file_name] = len(captions)
            captions.append([])
            first_lines.append(line_number)
        captions[order[file_name]].append(caption)
    image_paths = [folder / name for name in order]
    return image_paths, captions, first_lines


class CaptionCSVDataset(CaptionCorpus):
    """Caption corpus from an open_clip-style CSV/TSV (``filepath`` and ``title`` columns).

    Args:
        path: The CSV/TSV file. Relative image paths are resolved against its folder.
        mode: ``'train'`` (one caption per image per epoch) or ``'retrieval'``.
        image_size: Shorter-side resize + centre crop size; None keeps the decoded size.
        tokenizer: open_clip tokenizer; training samples then carry ``text``.
        transforms: Applied to each sample last.
        image_key: Image path column.
        caption_key: Caption column.
        delimiter: Field separator (tab or comma sniffed when None).
        seed: Seed of the per-epoch caption choice.
        on_error: ``'raise'`` or ``'skip'`` (bad rows and unreadable images, counted and logged).
        check_files: Check that every image exists when the dataset is made.

    Raises:
        CorpusError: Bad file content or missing images (policy ``raise``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        mode: CaptionMode = 'train',
        image_size: int | None = 224,
        tokenizer: Tokenizer | None = None,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        image_key: str = 'filepath',
        caption_key: str = 'title',
        delimiter: str | None = None,
        seed: int = 0,
        on_error: OnError = 'raise',
        check_files: bool = True,
    ) -> None:
        path = Path(path)
        policy = BadInputPolicy(on_error)
        image_paths, captions, lines = read_caption_csv(
            path, image_key=image_key, caption_key=caption_key, delimiter=delimiter, policy=policy
        )
        if check_files:
            image_paths, captions = check_images_exist(path, image_paths, captions, policy, lines)
        super().__init__(
            image_paths,
            captions,
            source=path,
            mode=mode,
            image_size=image_size,
            tokenizer=tokenizer,
            transforms=transforms,
            seed=seed,
            policy=policy,
        )


def check_images_exist(
    source: Path,
    image_paths: list[Path],
    captions: list[list[str]],
    policy: BadInputPolicy,
    lines: Sequence[int | str] | None = None,
) -> tuple[list[Path], list[list[str]]]:
    """Drop (policy ``skip``) or refuse images that do not exist.

    Args:
        source: The corpus file, named in the error.
        image_paths: Image paths.
        captions: Captions per image.
        policy: The bad-input policy.
        lines: Where each image is listed, named in the error when given: a 1-based line
            number, or a key (``'images[3]'``) for structured formats.

    Returns:
        The kept paths and captions.

    Raises:
        CorpusError: An image is missing (policy ``raise``).
    """
    kept_paths, kept_captions = [], []
    for position, (path, image_captions) in enumerate(zip(image_paths, captions)):
        if path.is_file():
            kept_paths.append(path)
            kept_captions.append(image_captions)
        else:
            where = lines[position] if lines is not None else None
            line, key = (None, where) if isinstance(where, str) else (where, None)
            policy.handle(source, f'image file not found: {path}', line=line, key=key)
    return kept_paths, kept_captions
