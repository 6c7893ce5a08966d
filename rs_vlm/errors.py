"""Error types that rs_vlm raises for bad input.

Every error about a file names the file and, where it applies, the line or key, and says what
was expected, so a user can fix the input without reading our code.
"""

from pathlib import Path

__all__ = [
    'AnnotationError',
    'CheckpointError',
    'ConfigError',
    'CorpusError',
    'ImageTooLargeError',
    'InputError',
    'OutputPathError',
]


class InputError(ValueError):
    """Bad input in a file: the message names the file and the line or key.

    Args:
        path: The file (or folder) at fault.
        message: What is wrong and what was expected.
        line: 1-based line number, when the format is line-oriented.
        key: The key or field at fault, for structured formats.
    """

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.key = key
        self.reason = message
        where = self.path
        if line is not None:
            where += f', line {line}'
        if key is not None:
            where += f', key {key!r}'
        super().__init__(f'{where}: {message}')

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuild with the same fields so the error keeps its type across processes
        # (DataLoader workers, multiprocessing pools).
        return (_rebuild, (type(self), self.path, self.reason, self.line, self.key))


def _rebuild(
    cls: type[InputError], path: str, message: str, line: int | None, key: str | None
) -> InputError:
    return cls(path, message, line=line, key=key)


class AnnotationError(InputError):
    """A detection or segmentation annotation file cannot be read."""


class CorpusError(InputError):
    """A caption corpus (CSV/TSV, JSONL, Karpathy JSON, precomp text, shards) is malformed."""


class CheckpointError(InputError):
    """A checkpoint file has an unknown layout, the wrong architecture, or unsafe content."""


class ImageTooLargeError(InputError):
    """An image would decode to more pixels than the pixel budget (a decompression bomb).

    A :class:`ValueError` like every :class:`InputError`, so the datasets' ``skip`` policy
    counts it as one bad image instead of stopping the run.
    """


class OutputPathError(InputError):
    """An output path cannot be used: it is an input, a folder, or not writable."""


class ConfigError(ValueError):
    """Settings that do not fit together (e.g. a tokenizer and a model of other lengths)."""
