"""Fetch weight files from the Hugging Face Hub: cache first, one clear line when offline.

:func:`hub_file` wraps ``huggingface_hub.hf_hub_download`` (its cache layout, resumable
downloads, the Hub's own integrity checks) with two changes for the command line:

- a file already in the cache is used without asking the Hub (``local_files_only``), so a
  cached model loads at once with or without network;
- a file not in the cache fails within seconds when ``HF_HUB_OFFLINE`` is set or the Hub's
  address does not answer, with one line naming the repository, the file and the cache folder,
  instead of huggingface_hub's five retries with back-off (about 25 s) and a traceback.
"""

import logging
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from rs_vlm.errors import CheckpointError
from rs_vlm.models.registry import ReleasedWeights

__all__ = [
    'WeightsUnavailableError',
    'cached_file',
    'fetch_released_weights',
    'hub_cache_dir',
    'hub_file',
    'hub_unreachable_reason',
]

logger = logging.getLogger(__name__)

#: Seconds to wait for the Hub's address before calling the network unreachable.
CONNECT_TIMEOUT = 3.0


class WeightsUnavailableError(CheckpointError):
    """Weights are neither in the local cache nor downloadable now."""


def hub_cache_dir() -> Path:
    """The Hub cache folder huggingface_hub uses now (``HF_HUB_CACHE``, ``HF_HOME``/hub)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _offline() -> bool:
    from huggingface_hub import constants

    # The constant is read at import; the environment may have changed since (tests, notebooks).
    flag = os.environ.get('HF_HUB_OFFLINE') or os.environ.get('TRANSFORMERS_OFFLINE')
    return constants.HF_HUB_OFFLINE or (flag or '').strip().lower() in {'1', 'on', 'yes', 'true'}


def hub_unreachable_reason() -> str | None:
    """Why the Hub cannot be asked now (offline mode, no route), or None when it answers."""
    from huggingface_hub import constants

    return 'HF_HUB_OFFLINE is set' if _offline() else _unreachable(constants.ENDPOINT)


def _unreachable(endpoint: str) -> str | None:
    """Why ``endpoint`` cannot be reached (DNS or TCP), or None when it answers."""
    if any(os.environ.get(name) for name in ('HTTPS_PROXY', 'https_proxy', 'ALL_PROXY')):
        return None  # the proxy decides; let huggingface_hub try
    parts = urlsplit(endpoint)
    host = parts.hostname or ''
    port = parts.port or (443 if parts.scheme == 'https' else 80)
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            return None
    except OSError as error:
        return f'{endpoint} is unreachable ({error.strerror or error})'


def cached_file(repo_id: str, filename: str) -> Path | None:
    """The cached copy of a Hub file, or None (never touches the network).

    Args:
        repo_id: ``org/name`` of a model repository.
        filename: The file inside it.

    Returns:
        The path in the cache (``.../snapshots/<rev>/<filename>``) or None.
    """
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=hub_cache_dir())
    return Path(found) if isinstance(found, str) else None


def hub_file(repo_id: str, filename: str, *, label: str | None = None) -> Path:
    """A local path of ``filename`` from the Hub repository ``repo_id``, downloading if needed.

    Args:
        repo_id: ``org/name`` of a model repository.
        filename: The file inside it (may contain a folder: ``ckpt/x.pt``).
        label: What to call the file in messages (a model name); the Hub path when None.

    Returns:
        The file in the Hub cache.

    Raises:
        WeightsUnavailableError: Not cached and the Hub cannot be reached (offline mode, no
            network) or refuses the request (no such repository or file, gated, ...).
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    source = f'hf://{repo_id}/{filename}'
    found = cached_file(repo_id, filename)
    if found is not None:
        return found
    cache = hub_cache_dir()
    what = f'{label} ({source})' if label else source
    fix = (
        f'download it where the Hub is reachable with `hf download {repo_id} {filename}` and copy '
        f'the Hub cache to {cache} (or set HF_HUB_CACHE), or pass the file as the checkpoint'
    )
    reason = hub_unreachable_reason()
    if reason is not None:
        raise WeightsUnavailableError(
            what, f'not in the Hugging Face cache {cache} and {reason}; {fix}'
        )
    logger.info('downloading %s into %s', source, cache)
    try:
        return Path(hf_hub_download(repo_id, filename, cache_dir=cache))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise WeightsUnavailableError(what, f'download failed ({first}); {fix}') from error


def fetch_released_weights(entry: ReleasedWeights) -> Path:
    """The local weights file of a registry entry (downloaded through the Hub cache).

    Args:
        entry: A :data:`rs_vlm.models.registry.RELEASED_WEIGHTS` entry.

    Returns:
        The weights file.

    Raises:
        WeightsUnavailableError: The weights are not on the Hub (with where to get them), or
            not cached and not downloadable now.
    """
    if entry.on_hub:
        assert entry.repo_id is not None and entry.filename is not None
        return hub_file(entry.repo_id, entry.filename, label=entry.name)
    raise WeightsUnavailableError(
        entry.name,
        f'published outside the Hugging Face Hub as {entry.url}; download and unzip it, then '
        f'pass {entry.archive_member} as the checkpoint (e.g. --model {entry.name} '
        f'--checkpoint {entry.archive_member})',
    )
