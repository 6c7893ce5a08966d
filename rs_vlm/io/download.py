"""torchgeo-style downloads: fetch an archive, verify its MD5, extract it safely.

torchvision's ``download_url`` does the transfer (any ``http(s)``/``file`` URL; tests use a
loopback server). Extraction is ours because torchgeo's ``extract_archive`` trusts member names;
we refuse absolute paths, ``..`` components and links that leave the target folder.
"""

import hashlib
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from torch.utils.data import Dataset
from torchgeo.datasets import DatasetNotFoundError
from torchvision.datasets.utils import download_url

from rs_vlm.errors import InputError

__all__ = [
    'ArchiveError',
    'MissingDatasetError',
    'check_member_name',
    'download_archive',
    'file_md5',
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


def file_md5(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex MD5 of a file.

    Args:
        path: The file.
        chunk_size: Read size.

    Returns:
        The digest.
    """
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, 'rb') as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


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
    if md5 is not None:
        actual = file_md5(path)
        if actual != md5:
            path.unlink()
            raise ArchiveError(path, f'MD5 {actual} does not match the expected {md5}; removed')
    return path


def check_member_name(archive: Path, name: str) -> None:
    """Refuse an archive member name that is absolute or climbs out with ``..``.

    Args:
        archive: The archive, named in the error.
        name: The member name.

    Raises:
        ArchiveError: The name is unsafe.
    """
    pure = PurePosixPath(name.replace('\\', '/'))
    if pure.is_absolute() or '..' in pure.parts or (pure.parts and ':' in pure.parts[0]):
        raise ArchiveError(archive, f'unsafe member name {name!r} (absolute or with "..")')


def safe_extract(archive: Path, destination: Path) -> None:
    """Extract a ``.zip`` or tar archive into ``destination`` after checking every member.

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
    with tarfile.open(archive) as handle:
        for member in handle.getmembers():
            check_member_name(archive, member.name)
            if member.issym() or member.islnk():
                check_member_name(archive, str(PurePosixPath(member.name).parent / member.linkname))
        # The 'data' filter also refuses device files and absolute link targets.
        handle.extractall(destination, filter='data')
