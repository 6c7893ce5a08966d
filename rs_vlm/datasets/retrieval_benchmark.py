"""Base class of the cross-modal retrieval benchmarks (RSICD, RSITMD, UCM-, Sydney-Captions).

Folder layout under ``root`` (either caption format works; the JSON wins when both exist)::

    root/
      dataset_<name>.json               Karpathy-style JSON with train/val/test splits, or
      <split>_caps.txt, <split>_filename.txt   the "precomp" text files of each split
      images/<file name>                the images named by the caption files

None of the benchmarks has a stable public direct link, so ``url`` is an argument: with
``download=True`` and a ``url`` (a mirror, ``file://`` path or loopback server), a missing corpus
is fetched as one archive (checked against ``md5`` when ``checksum=True``) and extracted into
``root``; an archive already at ``root / filename`` is extracted without downloading.
"""

from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar
from urllib.parse import urlparse

from torchvision.datasets.utils import check_integrity

from rs_vlm.datasets.bad_input import BadInputPolicy, OnError
from rs_vlm.datasets.caption_corpus import CaptionMode, Tokenizer
from rs_vlm.datasets.caption_listed import ListedCaptionDataset
from rs_vlm.datasets.caption_readers import read_karpathy_json, read_precomp
from rs_vlm.io.download import (
    ArchiveError,
    MissingDatasetError,
    download_archive,
    safe_extract,
)

__all__ = ['RetrievalBenchmark']


class RetrievalBenchmark(ListedCaptionDataset):
    """A retrieval benchmark split: images with 5 captions each.

    ``mode`` defaults to ``'train'`` for the train split (one random caption per image per
    epoch) and ``'retrieval'`` otherwise (``captions`` + ``caption_to_image``).

    Args:
        root: Dataset folder (see the module docstring).
        split: ``'train'``, ``'val'`` or ``'test'``.
        mode: ``'train'`` or ``'retrieval'``; None picks by split.
        image_dir: Image folder, relative to ``root``.
        image_size: Shorter-side resize + centre crop; None keeps the decoded size.
        tokenizer: open_clip tokenizer for ``text``.
        transforms: Applied to each sample last.
        download: Fetch the archive from ``url`` when the files are missing.
        checksum: Check the archive's MD5.
        url: Where the archive (caption files + ``images/``) can be fetched.
        md5: Its expected MD5.
        seed: Seed of the per-epoch caption choice.
        on_error: ``'raise'`` or ``'skip'``.
        check_files: Check that every image exists now (False allows caption-only use).

    Raises:
        MissingDatasetError: The caption files are absent and cannot be downloaded.
    """

    #: Benchmark name used in ``dataset_<json_name>.json``.
    json_name: ClassVar[str] = ''
    splits: ClassVar[tuple[str, ...]] = ('train', 'val', 'test')
    #: Archive with the caption files and images (None: no public direct link).
    url: str | None = None
    #: Its file name under ``root`` (default: the last part of ``url``).
    filename: str = ''
    md5: str | None = None
    #: How to obtain the data by hand, for the not-found error.
    manual: ClassVar[str] = ''

    def __init__(
        self,
        root: str | Path = 'data',
        split: str = 'test',
        *,
        mode: CaptionMode | None = None,
        image_dir: str = 'images',
        image_size: int | None = 224,
        tokenizer: Tokenizer | None = None,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        download: bool = False,
        checksum: bool = False,
        seed: int = 0,
        on_error: OnError = 'raise',
        check_files: bool = True,
        url: str | None = None,
        md5: str | None = None,
    ) -> None:
        if split not in self.splits:
            raise ValueError(f'split must be one of {self.splits}, got {split!r}')
        self.root = Path(root)
        self.split = split
        self.download = download
        self.checksum = checksum
        if url is not None:
            self.url = url
        if md5 is not None:
            self.md5 = md5
        if self.url is not None and not self.filename:
            self.filename = PurePosixPath(urlparse(self.url).path).name
        self._verify()
        policy = BadInputPolicy(on_error)
        json_file = self.root / f'dataset_{self.json_name}.json'
        if json_file.is_file():
            source = json_file
            listing = read_karpathy_json(json_file, policy, split=split)
        else:
            source = self.root / f'{split}_caps.txt'
            listing = read_precomp(source, self.root / f'{split}_filename.txt', policy)
        self._init_from_listing(
            listing,
            source=source,
            image_dir=self.root / image_dir,
            policy=policy,
            check_files=check_files,
            mode=mode or ('train' if split == 'train' else 'retrieval'),
            image_size=image_size,
            tokenizer=tokenizer,
            transforms=transforms,
            seed=seed,
        )

    def _has_captions(self) -> bool:
        if (self.root / f'dataset_{self.json_name}.json').is_file():
            return True
        return all(
            (self.root / f'{self.split}_{kind}.txt').is_file() for kind in ('caps', 'filename')
        )

    def _verify(self) -> None:
        if self._has_captions():
            return
        archive = self.root / self.filename if self.filename else None
        if archive is not None and archive.is_file():
            if (
                self.checksum
                and self.md5 is not None
                and not check_integrity(str(archive), self.md5)
            ):
                raise ArchiveError(archive, f'MD5 does not match the expected {self.md5}')
            safe_extract(archive, self.root)
        elif self.download and self.url is not None:
            archive = download_archive(
                self.url, self.root, self.filename, self.md5 if self.checksum else None
            )
            safe_extract(archive, self.root)
        if self._has_captions():
            return
        how = (
            'Pass download=True to fetch it.'
            if self.url is not None and not self.download
            else f'Put the files there by hand. {self.manual}'.strip()
        )
        raise MissingDatasetError(
            self,
            self.root,
            [
                f'dataset_{self.json_name}.json',
                f'{self.split}_caps.txt + {self.split}_filename.txt',
                'images/',
            ],
            how,
        )
