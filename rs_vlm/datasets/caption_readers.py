"""Readers of caption-corpus text formats: precomp, Karpathy JSON and JSON Lines.

Each returns ``(file_names, captions_per_image, line_per_image)``; file names are as written in
the corpus (resolved against an image folder by the dataset). Empty captions and undecodable
text go through the bad-input policy (``skip`` drops the caption, counted and logged).
"""

from pathlib import Path
from typing import Any

from rs_vlm.datasets.bad_input import BadInputPolicy
from rs_vlm.errors import CorpusError
from rs_vlm.json_input import parse_json

__all__ = ['CorpusListing', 'read_jsonl', 'read_karpathy_json', 'read_precomp', 'read_text_lines']

#: ``(file_names, captions_per_image, where_per_image)``: where each image is listed, as a
#: 1-based line number (text formats) or a key such as ``'images[3]'`` (Karpathy JSON).
CorpusListing = tuple[list[str], list[list[str]], list[int | str]]


def read_text_lines(path: Path, policy: BadInputPolicy) -> list[str | None]:
    """Read a UTF-8 text file into lines; a line that is not UTF-8 is None (policy ``skip``).

    Args:
        path: The file.
        policy: Bad-input policy.

    Returns:
        The lines without line endings.

    Raises:
        CorpusError: The file is missing, or a line is not UTF-8 (policy ``raise``).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError as error:
        raise CorpusError(path, 'corpus file not found') from error
    if raw.startswith(b'\xef\xbb\xbf'):
        raw = raw[3:]
    lines: list[str | None] = []
    for number, raw_line in enumerate(raw.splitlines(), start=1):
        try:
            lines.append(raw_line.decode('utf-8'))
        except UnicodeDecodeError as error:
            policy.handle(path, f'not valid UTF-8 text: {error.reason}', line=number, cause=error)
            lines.append(None)
    return lines


def _clean_caption(
    text: str | None, path: Path, line: int | None, policy: BadInputPolicy, key: str | None = None
) -> str | None:
    if text is None:
        return None  # already reported as undecodable
    text = text.strip()
    if not text:
        policy.handle(path, 'empty caption', line=line, key=key)
        return None
    return text


def read_precomp(
    captions_file: str | Path, filenames_file: str | Path, policy: BadInputPolicy
) -> CorpusListing:
    """Read the "precomp" format: ``*_caps.txt`` (one caption a line) + ``*_filename.txt``.

    Both variants are understood: one file name line per caption (names repeated, grouped
    here in order of first appearance) and one line per image with ``k`` captions per image in
    consecutive blocks (``len(caps) == k * len(filenames)``).

    Args:
        captions_file: The captions file.
        filenames_file: The file-names file.
        policy: Bad-input policy.

    Returns:
        The listing; line numbers refer to the captions file (first caption of each image).

    Raises:
        CorpusError: Line counts that fit neither variant (always), bad lines (``raise``).
    """
    captions_file, filenames_file = Path(captions_file), Path(filenames_file)
    captions = read_text_lines(captions_file, policy)
    names = [name.strip() if name else name for name in read_text_lines(filenames_file, policy)]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise CorpusError(filenames_file, 'no file names; expected one image file name a line')
    if len(names) == len(captions):
        caption_names = names
    elif len(captions) % len(names) == 0:
        per_image = len(captions) // len(names)
        caption_names = [name for name in names for _ in range(per_image)]
    else:
        raise CorpusError(
            captions_file,
            f'{len(captions)} caption lines do not match the {len(names)} file names in '
            f'{filenames_file}; expected one name per caption or the same number of captions '
            'for every image',
        )
    order: dict[str, int] = {}
    grouped: list[list[str]] = []
    lines: list[int] = []
    for number, (name, text) in enumerate(zip(caption_names, captions), start=1):
        if not name:
            policy.handle(filenames_file, 'empty or undecodable file name', line=number)
            continue
        if name not in order:
            order[name] = len(grouped)
            grouped.append([])
            lines.append(number)
        caption = _clean_caption(text, captions_file, number, policy)
        if caption is not None:
            grouped[order[name]].append(caption)
    return _drop_images_without_captions(list(order), grouped, lines, captions_file, policy)


def _drop_images_without_captions(
    names: list[str], grouped: list[list[str]], lines: list[int], path: Path, policy: BadInputPolicy
) -> CorpusListing:
    kept: CorpusListing = ([], [], [])
    for name, captions, line in zip(names, grouped, lines):
        if captions:
            kept[0].append(name)
            kept[1].append(captions)
            kept[2].append(line)
        else:
            policy.handle(path, f'image {name!r} has no usable caption', line=line)
    return kept


def read_karpathy_json(
    path: str | Path,
    policy: BadInputPolicy,
    split: str | None = None,
) -> CorpusListing:
    """Read a Karpathy-style JSON (``images[].filename``, ``split``, ``sentences[].raw``).

    Args:
        path: The JSON file (e.g. ``dataset_rsicd.json``).
        policy: Bad-input policy.
        split: Keep images of this split only (``'train'``, ``'val'``, ``'test'``); all if None.

    Returns:
        The listing; where an image is listed is its key, ``images[<index>]``.

    Raises:
        CorpusError: Not JSON or without ``images`` (always), bad entries (``raise``).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise CorpusError(path, 'corpus file not found') from error
    document = parse_json(data, path, CorpusError)
    if not isinstance(document, dict) or not isinstance(document.get('images'), list):
        raise CorpusError(path, 'expected an object with an "images" list', key='images')
    names: list[str] = []
    grouped: list[list[str]] = []
    lines: list[int | str] = []
    for index, entry in enumerate(document['images']):
        key = f'images[{index}]'
        if not isinstance(entry, dict) or not isinstance(entry.get('filename'), str):
            policy.handle(path, 'expected an object with a "filename" string', key=key)
            continue
        if split is not None and entry.get('split') != split:
            continue
        sentences = entry.get('sentences')
        if not isinstance(sentences, list):
            policy.handle(path, 'expected a "sentences" list', key=f'{key}.sentences')
            continue
        captions = []
        for position, sentence in enumerate(sentences):
            raw = sentence.get('raw') if isinstance(sentence, dict) else None
            sentence_key = f'{key}.sentences[{position}].raw'
            if not isinstance(raw, str):
                policy.handle(path, 'expected a "raw" caption string', key=sentence_key)
                continue
            caption = _clean_caption(raw, path, None, policy, key=sentence_key)
            if caption is not None:
                captions.append(caption)
        if not captions:
            policy.handle(path, 'image has no usable caption', key=key)
            continue
        names.append(entry['filename'])
        grouped.append(captions)
        lines.append(key)
    return names, grouped, lines


def read_jsonl(
    path: str | Path,
    policy: BadInputPolicy,
    image_key: str | None = None,
    captions_key: str = 'captions',
) -> CorpusListing:
    """Read JSON Lines: one object per line with an image name and a list of captions.

    Args:
        path: The ``.jsonl`` file.
        policy: Bad-input policy.
        image_key: Key of the image file name; None reads ``filepath`` (what ``rs-vlm
            convert`` writes) or else ``filename``.
        captions_key: Key of the captions (a list of strings, or one string).

    Returns:
        The listing.

    Raises:
        CorpusError: Bad lines (policy ``raise``).
    """
    path = Path(path)
    names: list[str] = []
    grouped: list[list[str]] = []
    lines: list[int | str] = []
    for number, text in enumerate(read_text_lines(path, policy), start=1):
        if text is None or not text.strip():
            continue
        try:
            entry: Any = parse_json(text, path, CorpusError, line=number)
        except CorpusError as error:
            policy.handle(path, error.reason, line=number, cause=error)
            continue
        key = image_key
        if key is None:
            key = 'filepath' if isinstance(entry, dict) and 'filepath' in entry else 'filename'
        if not isinstance(entry, dict) or not isinstance(entry.get(key), str):
            expected = repr(key) if image_key is not None else "'filepath' (or 'filename')"
            policy.handle(path, f'expected an object with a {expected} string', line=number)
            continue
        raw_captions = entry.get(captions_key)
        if isinstance(raw_captions, str):
            raw_captions = [raw_captions]
        if not isinstance(raw_captions, list) or not all(isinstance(c, str) for c in raw_captions):
            policy.handle(path, 'expected a list of caption strings', line=number, key=captions_key)
            continue
        captions = [
            c for c in (_clean_caption(c, path, number, policy, captions_key) for c in raw_captions)
        ]
        kept = [c for c in captions if c is not None]
        if not kept:
            policy.handle(path, 'no usable caption', line=number, key=captions_key)
            continue
        names.append(entry[key])
        grouped.append(kept)
        lines.append(number)
    return names, grouped, lines
