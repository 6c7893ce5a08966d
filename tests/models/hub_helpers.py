"""Build a Hugging Face Hub cache the way huggingface_hub lays it out (for offline tests)."""

from collections.abc import Callable
from pathlib import Path

#: A fixed snapshot revision for the caches the tests build (40 hex digits, as the Hub uses).
REVISION = '0123456789abcdef0123456789abcdef01234567'


def put_in_cache(cache: Path, repo_id: str, filename: str, write: Callable[[Path], None]) -> Path:
    """Lay a file out as huggingface_hub caches it: snapshots/<rev>/<file> and refs/main.

    Args:
        cache: The Hub cache folder.
        repo_id: ``org/name``.
        filename: Path of the file inside the repository.
        write: Writes the file at the path it is given.

    Returns:
        The file's path in the snapshot.
    """
    repo = cache / f'models--{repo_id.replace("/", "--")}'
    target = repo / 'snapshots' / REVISION / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    write(target)
    (repo / 'refs').mkdir(parents=True, exist_ok=True)
    (repo / 'refs' / 'main').write_text(REVISION)
    return target
