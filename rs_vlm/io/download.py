"""torchgeo-style downloads: fetch an archive, verify its MD5, extract it safely.

torchvision's ``download_url`` does the transfer (any ``http(s)``/``file`` URL; tests use a
loopback server) and its ``check_integrity`` the MD5. Extraction is ours because torchgeo's
``extract_archive`` trusts member names: tar archives go through ``tarfile``'s ``'data'``
filter, zip member names through a check, and absolute paths, ``..`` components and links that
leave the target folder are refused before anything is written.
"""

import tarfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from torch.utils.data import Dataset
from torchgeo.datasets import DatasetNotFoundError
from torchvision.datasets.utils import calculate_md5, check_integrity, download_url

from rs_vlm.errors import InputError

__all__ = [
    'ArchiveError',
    'MissingDatasetError',
    'check_member_name',
    'download_archive',
    'safe_extract',
]


class ArchiveError(InputError):
    """An archive holds an unsafe member name or fails its checksum."""


class MissingDatasetError(DatasetNotFoundError):
    """torchgeo's ``DatasetNotFoundError`` with where the files should be and how to get them.

    Args:
        dataset: The dataset (its class name is used).
        root: The dataset folder.
        expected: Files or folders that were looked for, relative to ``root``.
        how: How to obtain them (download flag, URL, manual steps).
    """

    def __init__(
        self, dataset: Dataset[object], root: Path, expected: Iterable[str], how: str
    ) -> None:
        self.root = Path(root)
        listing = ', '.join(str(self.root / item) for item in expected)
        message = f'{type(dataset).__name__} not found: expected {listing}. {how}'
        FileNotFoundError.__init__(self, message)


def download_archive(url: str, root: Path, filename: str, md5: str | None) -> Path:
    """Download ``url`` to ``root / filename`` and check its MD5 when given.

    Args:
        url: Source URL.
        root: Destination folder.
        filename: Destination file name.
        md5: Expected hex MD5, or None to skip the check.

    Returns:
        The downloaded file.

    Raises:
        ArchiveError: The checksum does not match (the file is removed).
    """
    root.mkdir(parents=True, exist_ok=True)
    download_url(url, str(root), filename)
    path = root / filename
    if not check_integrity(str(path), md5):
        actual = calculate_md5(str(path))
        path.unlink()
        raise ArchiveError(path, f'MD5 {actual} does not match the expected {md5}; removed')
    return path


def check_member_name(archive: Path, name: str) -> None:
    """Refuse a zip member name that is absolute, has a drive or climbs out with ``..``.

    ``zipfile`` has no extraction filter (it silently rewrites such names), so zip members are
    checked here; tar members go through ``tarfile``'s ``'data'`` filter.

    Args:
        archive: The archive, named in the error.
        name: The member name.

    Raises:
        ArchiveError: The name is unsafe.
    """
    pure = PurePosixPath(name.replace('\\', '/'))
    if pure.is_absolute() or '..' in pure.parts or (pure.parts and ':' in pure.parts[0]):
        raise ArchiveError(archive, f'unsafe member name {name!r} (absolute or with "..")')


def _tar_member_filter(archive: Path) -> Callable[[tarfile.TarInfo, str], tarfile.TarInfo | None]:
    """``tarfile``'s ``'data'`` filter, refusing (not rewriting) absolute names, as ArchiveError."""

    def check(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
        try:
            filtered = tarfile.data_filter(member, destination)
        except tarfile.FilterError as error:
            raise ArchiveError(archive, f'unsafe member name {member.name!r}: {error}') from error
        if filtered is not None and filtered.name != member.name:  # a stripped leading '/'
            raise ArchiveError(archive, f'unsafe member name {member.name!r} (absolute)')
        return filtered

    return check


def safe_extract(archive: Path, destination: Path) -> None:
    """Extract a ``.zip`` or tar archive into ``destination`` after checking every member.

    Tar members go through ``tarfile``'s ``'data'`` filter (no absolute or escaping names or
    links, no device files), zip member names through :func:`check_member_name`; every member
    is checked before anything is written.

    Args:
        archive: The archive.
        destination: Target folder.

    Raises:
        ArchiveError: Unsafe member names or links, or an unknown archive type.
    """
    archive, destination = Path(archive), Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as handle:
            for name in handle.namelist():
                check_member_name(archive, name)
            handle.extractall(destination)
        return
    if not tarfile.is_tarfile(archive):
        raise ArchiveError(archive, 'not a zip or tar archive')
    check = _tar_member_filter(archive)
    with tarfile.open(archive) as handle:
        for member in handle.getmembers():
            check(member, str(destination))
        handle.extractall(destination, filter=check)
