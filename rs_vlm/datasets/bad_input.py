"""The bad-input policy shared by our datasets: ``'raise'`` (default) or ``'skip'`` with a count.

A skipped item is never silent: each one is logged with its file (and line) and counted. Inside
DataLoader workers the count lives in the worker's copy of the dataset, so skipped samples are
also reported per batch by :func:`collate_skipping_bad` under the ``skipped`` key.
"""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch

from rs_vlm.errors import CorpusError, InputError
from rs_vlm.skipped_batches import collate_skipping_bad, is_all_skipped

__all__ = [
    'IMAGE_READ_ERRORS',
    'BadInputPolicy',
    'OnError',
    'collate_skipping_bad',
    'is_all_skipped',
]

OnError = Literal['raise', 'skip']

#: What Pillow, rasterio and our decoders raise for a missing, truncated or foreign image.
IMAGE_READ_ERRORS = (OSError, ValueError, SyntaxError, RuntimeError)

logger = logging.getLogger('rs_vlm.datasets')


class BadInputPolicy:
    """Raise or count-and-log one bad input.

    Args:
        on_error: ``'raise'`` raises the error; ``'skip'`` logs it and counts it.
        error_class: The :class:`~rs_vlm.errors.InputError` subclass to raise.
    """

    def __init__(self, on_error: OnError = 'raise', error_class: type[InputError] = CorpusError):
        if on_error not in ('raise', 'skip'):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.on_error = on_error
        self.error_class = error_class
        self.num_skipped = 0

    def handle(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        key: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        """Raise an error naming ``path`` (and ``line``/``key``), or log and count it.

        Args:
            path: The file at fault.
            message: What is wrong and what was expected.
            line: 1-based line number, when it applies.
            key: Key or column, when it applies.
            cause: The underlying exception, chained when raising.

        Raises:
            InputError: With ``on_error='raise'``.
        """
        error = self.error_class(path, message, line=line, key=key)
        if self.on_error == 'raise':
            raise error from cause
        self.num_skipped += 1
        logger.warning('skipped bad input (%d so far): %s', self.num_skipped, error)

    def read_image(
        self,
        read: Callable[[], torch.Tensor],
        path: str | Path,
        context: str = 'cannot read image',
        *,
        key: str | None = None,
    ) -> torch.Tensor | None:
        """Run an image read; on a read error raise or count it as the policy says.

        Args:
            read: Returns the decoded image.
            path: The file named in the error.
            context: What failed, put before the decoder's message.
            key: Member or key within ``path``, when it applies.

        Returns:
            The image, or None when it was bad and skipped.

        Raises:
            InputError: With ``on_error='raise'``, chained to the decoder's error.
        """
        try:
            return read()
        except IMAGE_READ_ERRORS as error:
            self.handle(path, f'{context}: {error}', key=key, cause=error)
            return None
