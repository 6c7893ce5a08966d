"""Caption corpora stored as WebDataset-style tar shards, read with random access.

A shard is a plain tar: consecutive members sharing a key (the member name up to the first
dot of its base name) form one sample: an image (``.jpg``/``.png``/``.tif``/...) plus
``.json`` (``{"captions": [...]}``) and/or ``.txt`` (one caption a line). Any WebDataset tool
can read them.

We read them as a *map-style* dataset: an index (``index.json`` written by
:mod:`rs_vlm.io.webdataset_writer`, or built by scanning the tar headers once) gives
each sample's shard, byte offset and captions, so each DataLoader worker seeks and reads only
its own samples. Lightning's ``DistributedSampler`` then gives every rank a disjoint set of
samples per epoch (no duplicates across ranks), the order is a function of ``(seed,
epoch)``, and a run can resume mid-epoch like any map-style dataset. Member names that are
absolute or contain ``..`` are refused.
"""

import os
import re
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from torch import Tensor

from rs_vlm.datasets.bad_input import BadInputPolicy, OnError
from rs_vlm.datasets.caption_corpus import CaptionCorpus, CaptionMode, Tokenizer
from rs_vlm.errors import CorpusError
from rs_vlm.image_files import IMAGE_SUFFIXES
from rs_vlm.io.decoding import decode_image_bytes
from rs_vlm.io.random_crop import CropSampler
from rs_vlm.json_input import parse_json

__all__ = ['IMAGE_EXTENSIONS', 'INDEX_NAME', 'ShardSample', 'WebDatasetShards', 'scan_shard']

#: WebDataset member extensions of an image (:data:`rs_vlm.image_files.IMAGE_SUFFIXES`).
IMAGE_EXTENSIONS = tuple(suffix[1:] for suffix in IMAGE_SUFFIXES)
INDEX_NAME = 'index.json'
_GZIP_MAGIC = b'\x1f\x8b'

#: Largest ``.json`` / ``.txt`` caption member read (captions are short; this bounds memory).
MAX_CAPTION_MEMBER_BYTES = 1 << 20

#: ``(shard file name, image member name, data offset, data size, captions)``.
ShardSample = tuple[str, str, int, int, list[str]]


def _check_name(shard: Path, name: str) -> None:
    pure = PurePosixPath(name)
    if pure.is_absolute() or '..' in pure.parts:
        raise CorpusError(shard, 'unsafe member name (absolute or with "..")', key=name)


def _split_key(name: str) -> tuple[str, str]:
    folder, _, base = name.rpartition('/')
    stem, _, extension = base.partition('.')
    return (f'{folder}/{stem}' if folder else stem), extension.lower()


def scan_shard(shard: Path, policy: BadInputPolicy) -> list[ShardSample]:
    """List the samples of one tar shard by reading its headers (and caption members).

    Args:
        shard: The tar file.
        policy: Bad-input policy for samples without image or captions.

    Returns:
        The shard's samples in file order.

    Raises:
        CorpusError: Unsafe member names (always), unreadable tar (always), bad samples
            (policy ``raise``).
    """
    groups: dict[str, dict[str, tarfile.TarInfo]] = {}
    try:
        with tarfile.open(shard) as archive:
            members = archive.getmembers()
            for member in members:
                _check_name(shard, member.name)
                if not member.isfile():
                    continue
                key, extension = _split_key(member.name)
                groups.setdefault(key, {})[extension] = member
            samples = []
            for key, parts in groups.items():
                sample = _sample_from_parts(shard, archive, key, parts, policy)
                if sample is not None:
                    samples.append(sample)
    except tarfile.TarError as error:
        raise CorpusError(shard, f'not a readable tar shard: {error}') from error
    return samples


def _sample_from_parts(
    shard: Path,
    archive: tarfile.TarFile,
    key: str,
    parts: dict[str, tarfile.TarInfo],
    policy: BadInputPolicy,
) -> ShardSample | None:
    image = next((parts[ext] for ext in IMAGE_EXTENSIONS if ext in parts), None)
    if image is None:
        policy.handle(shard, f'sample has no image member ({IMAGE_EXTENSIONS})', key=key)
        return None
    captions: list[str] = []
    try:
        if 'json' in parts:
            text = _read_member(archive, parts['json'], shard)
            document = parse_json(text, shard, CorpusError, key=key)
            raw = (
                document.get('captions', document.get('caption'))
                if isinstance(document, dict)
                else None
            )
            captions = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        elif 'txt' in parts:
            text = _read_member(archive, parts['txt'], shard).decode('utf-8')
            captions = text.replace('\r\n', '\n').split('\n')
    except (UnicodeDecodeError, CorpusError) as error:
        reason = error.reason if isinstance(error, CorpusError) else str(error)
        policy.handle(shard, f'unreadable caption member: {reason}', key=key, cause=error)
        return None
    captions = [c.strip() for c in captions if isinstance(c, str) and c.strip()]
    if not captions:
        policy.handle(shard, 'sample has no caption (.json "captions" or .txt)', key=key)
        return None
    return shard.name, image.name, image.offset_data, image.size, captions


def _read_member(archive: tarfile.TarFile, member: tarfile.TarInfo, shard: Path) -> bytes:
    if member.size > MAX_CAPTION_MEMBER_BYTES:
        raise CorpusError(
            shard,
            f'caption member of {member.size} bytes is over the limit of '
            f'{MAX_CAPTION_MEMBER_BYTES} bytes',
            key=member.name,
        )
    handle = archive.extractfile(member)
    return handle.read() if handle is not None else b''


class WebDatasetShards(CaptionCorpus):
    """A caption corpus in tar shards (see the module docstring).

    Args:
        shards: A folder of ``*.tar`` shards (with or without ``index.json``) or a list of
            shard files.
        mode: ``'train'`` or ``'retrieval'``.
        image_size: Shorter-side resize + centre crop; None keeps the decoded size.
        tokenizer: open_clip tokenizer for ``text``.
        transforms: Applied to each sample last.
        seed: Seed of the per-epoch caption choice.
        on_error: ``'raise'`` or ``'skip'``.

    Raises:
        CorpusError: No shards, unsafe member names, unreadable shards or index.
    """

    def __init__(
        self,
        shards: str | Path | Sequence[str | Path],
        *,
        mode: CaptionMode = 'train',
        image_size: int | None = 224,
        tokenizer: Tokenizer | None = None,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        seed: int = 0,
        on_error: OnError = 'raise',
    ) -> None:
        policy = BadInputPolicy(on_error)
        samples, folder, source = self._index(shards, policy)
        self.folder = folder
        self.samples = samples
        self._handles: dict[str, Any] = {}
        self._handles_pid = -1
        super().__init__(
            [folder / shard / name for shard, name, *_ in samples],
            [captions for *_, captions in samples],
            source=source,
            mode=mode,
            image_size=image_size,
            tokenizer=tokenizer,
            transforms=transforms,
            seed=seed,
            policy=policy,
        )

    @staticmethod
    def _index(
        shards: str | Path | Sequence[str | Path], policy: BadInputPolicy
    ) -> tuple[list[ShardSample], Path, Path]:
        if isinstance(shards, str | Path) and Path(shards).is_dir():
            folder = Path(shards)
            index = folder / INDEX_NAME
            if index.is_file():
                samples = _read_index(index)
                _check_index_complete(index, samples)
                return samples, folder, index
            files = sorted(folder.glob('*.tar'))
            if files and _written_by_shard_writer(files[0]):
                raise CorpusError(
                    folder,
                    f'shards written by rs-vlm shard but no {INDEX_NAME}: the write did not '
                    'finish, so this is part of a corpus at most. Run rs-vlm shard again',
                )
        else:
            files = [Path(shards)] if isinstance(shards, str | Path) else [Path(s) for s in shards]
            folder = files[0].parent if files else Path('.')
        if not files:
            raise CorpusError(folder, 'no *.tar shards found')
        if any(file.parent != folder for file in files):
            raise CorpusError(files[0], 'all shards must be in one folder')
        samples: list[ShardSample] = []
        for file in files:
            samples.extend(scan_shard(file, policy))
        return samples, folder, files[0]

    def _file(self, shard: str) -> Any:
        # One handle per shard and process: handles opened before a fork are not shared.
        if self._handles_pid != os.getpid():
            self._handles = {}
            self._handles_pid = os.getpid()
        if shard not in self._handles:
            self._handles[shard] = open(self.folder / shard, 'rb')
        return self._handles[shard]

    def load_image(self, index: int, crop: CropSampler | None = None) -> Tensor | None:
        """Read and decode the image of sample ``index`` from its shard.

        Args:
            index: Sample index.
            crop: Training crop box sampler; None: centre square.

        Returns:
            ``[3, H, W]`` in 0..255 of :attr:`image_dtype`, or None (bad image, policy ``'skip'``).
        """
        shard, name, offset, size, _ = self.samples[index]

        def read() -> Tensor:
            handle = self._file(shard)
            handle.seek(offset)
            data = handle.read(size)
            if len(data) != size:
                raise OSError(f'truncated shard: read {len(data)} of {size} bytes')
            suffix = '.' + name.rpartition('.')[2]
            return decode_image_bytes(data, suffix, self.image_size, self.image_dtype, crop)

        return self.policy.read_image(read, self.folder / shard, key=name)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without open file handles (for DataLoader workers)."""
        state = dict(self.__dict__)
        state['_handles'] = {}
        state['_handles_pid'] = -1
        return state


def _read_index(index: Path) -> list[ShardSample]:
    """Read ``index.json`` and check every entry's types and names (by key).

    Whether the entries lie inside their shards is checked next, by ``_check_index_complete``,
    before any sample is read.
    """
    try:
        data = index.read_bytes()
    except OSError as error:
        raise CorpusError(index, f'cannot read shard index: {error}') from error
    if data.startswith(_GZIP_MAGIC):
        raise CorpusError(
            index, 'shard index is gzip-compressed; expected plain JSON (decompress it first)'
        )
    document = parse_json(data, index, CorpusError)
    entries = document.get('samples') if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise CorpusError(index, 'expected an object with a "samples" list', key='samples')
    samples = [_index_entry(index, position, entry) for position, entry in enumerate(entries)]
    return samples


def _index_entry(index: Path, position: int, entry: Any) -> ShardSample:
    key = f'samples[{position}]'
    expected = '[shard, member, offset, size, [captions...]]'
    if not isinstance(entry, list) or len(entry) != 5:
        raise CorpusError(index, f'expected {expected}', key=key)
    shard, name, offset, size, captions = entry
    if not isinstance(shard, str) or not isinstance(name, str):
        raise CorpusError(index, f'shard and member must be strings; expected {expected}', key=key)
    _check_name(index, shard)
    _check_name(index, name)
    if '/' in shard or '\\' in shard:
        raise CorpusError(
            index, f'shard {shard!r} must be a file name in the index folder', key=key
        )
    for field, value in (('offset', offset), ('size', size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CorpusError(index, f'{field} must be an integer >= 0, got {value!r}', key=key)
    if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
        raise CorpusError(index, 'captions must be a list of strings', key=key)
    return shard, name, offset, size, captions


def _check_index_complete(index: Path, samples: list[ShardSample]) -> None:
    """Refuse an index that does not describe exactly the shards beside it.

    An index left from another run next to new shards would pair images with other images'
    captions; a shard shorter than the index says was cut off.
    """
    folder = index.parent
    listed: dict[str, int] = {}
    for shard, _, offset, size, _ in samples:
        listed[shard] = max(listed.get(shard, 0), offset + size)
    present = {file.name for file in folder.glob('*.tar')}
    missing = sorted(set(listed) - present)
    if missing:
        raise CorpusError(index, f'lists shards that are missing: {", ".join(missing[:5])}')
    extra = sorted(present - set(listed))
    if extra:
        raise CorpusError(
            index,
            f'does not list the shards {", ".join(extra[:5])} in its folder: the index and '
            'the shards come from different writes. Run rs-vlm shard again into a new folder',
        )
    for shard, end in listed.items():
        size = (folder / shard).stat().st_size
        if size < end:
            raise CorpusError(
                folder / shard,
                f'truncated: {size} bytes, but {INDEX_NAME} has data up to byte {end}',
            )


def _written_by_shard_writer(shard: Path) -> bool:
    """Whether a tar starts like ``rs-vlm shard`` output (9-digit keys, captions + source)."""
    try:
        with tarfile.open(shard) as archive:
            for _ in range(3):
                member = archive.next()
                if member is None or not re.fullmatch(r'\d{9}\.\w+', member.name):
                    return False
                if member.name.endswith('.json') and member.size < 1 << 20:
                    document = parse_json(_read_member(archive, member, shard), shard, CorpusError)
                    return isinstance(document, dict) and set(document) == {'captions', 'source'}
    except (tarfile.TarError, OSError, ValueError):
        return False
    return False
