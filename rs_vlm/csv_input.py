"""CSV/TSV tables read with the ``csv`` module on the file text, with physical line numbers.

Splitting the text into lines before parsing (``str.splitlines``) breaks rows at U+2028, NEL
and form feeds inside captions, drops the newline of quoted multi-line fields and shifts line
numbers. :func:`read_csv_table` parses the whole text as the ``csv`` module expects
(``newline=''``), in strict mode, and reports the physical line a row starts on. A stray
quote can no longer swallow the rest of the file into one field: an unterminated quote, a
field longer than the ``csv`` module's limit, or a row spanning more than
:data:`MAX_ROW_LINES` lines is an error naming the line where the row starts.
"""

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from rs_vlm.errors import InputError

__all__ = ['MAX_ROW_LINES', 'CSVTable', 'read_csv_table', 'sniff_delimiter']

#: Most physical lines one row may span (quoted multi-line captions are a few lines).
MAX_ROW_LINES: Final = 32

_STRAY_QUOTE_HINT = (
    'a stray double quote? Quote the whole field and double quotes inside it ("a ""big"" ship")'
)


def sniff_delimiter(path: Path, header: str) -> str:
    """Tab for ``.tsv`` files or a header holding a tab, else comma.

    Args:
        path: The file (its suffix is looked at).
        header: The first line of the file.

    Returns:
        The delimiter.
    """
    if path.suffix.lower() == '.tsv' or '\t' in header:
        return '\t'
    return ','


class CSVTable:
    """A parsed header and an iterator over ``(line, row)`` of a CSV/TSV text.

    Args:
        path: The file, named in errors.
        text: Its decoded text.
        error_class: The :class:`~rs_vlm.errors.InputError` subclass raised.
        delimiter: Field separator; sniffed by :func:`sniff_delimiter` when None.
        max_row_lines: Most physical lines one row may span.

    Raises:
        InputError: ``error_class``, for an empty file or a malformed header.
    """

    def __init__(
        self,
        path: Path,
        text: str,
        error_class: type[InputError],
        delimiter: str | None = None,
        max_row_lines: int = MAX_ROW_LINES,
    ) -> None:
        self.path = path
        self.error_class = error_class
        self.max_row_lines = max_row_lines
        first_line = text.partition('\n')[0]
        self.delimiter = delimiter or sniff_delimiter(path, first_line)
        self._reader = csv.reader(
            io.StringIO(text, newline=''), delimiter=self.delimiter, strict=True
        )
        rows = self._rows()
        first = next(rows, None)
        if first is None:
            raise error_class(path, 'empty file; expected a header line')
        self.header: list[str] = first[1]
        self.rows: Iterator[tuple[int, list[str]]] = rows

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        reader = self._reader
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise self.error_class(self.path, self._explain(error), line=start) from None
            span = reader.line_num - start + 1
            if span > self.max_row_lines:
                raise self.error_class(
                    self.path,
                    f'a quoted field runs over {span} lines (more than {self.max_row_lines}); '
                    + _STRAY_QUOTE_HINT,
                    line=start,
                )
            yield start, row

    def _explain(self, error: csv.Error) -> str:
        message = str(error)
        if 'field limit' in message:
            return (
                f'malformed CSV: a field is longer than {csv.field_size_limit():,} characters; '
                + _STRAY_QUOTE_HINT
            )
        if 'end of data' in message:
            return 'malformed CSV: a quoted field is never closed; ' + _STRAY_QUOTE_HINT
        return f'malformed CSV: {message}; {_STRAY_QUOTE_HINT}'


def read_csv_table(
    path: str | Path,
    error_class: type[InputError],
    *,
    delimiter: str | None = None,
    missing: str = 'file not found',
) -> CSVTable:
    """Read a UTF-8 CSV/TSV file (BOM tolerated) into a :class:`CSVTable`.

    Args:
        path: The file.
        error_class: The :class:`~rs_vlm.errors.InputError` subclass raised.
        delimiter: Field separator; sniffed when None.
        missing: The message when the file does not exist.

    Returns:
        The table (header parsed, rows read lazily).

    Raises:
        InputError: ``error_class``: missing or unreadable file, text that is not UTF-8 (with
            the line), an empty file; malformed rows raise while iterating ``rows``.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error_class(path, missing) from None
    except OSError as error:
        raise error_class(path, f'cannot read file: {error.strerror or error}') from None
    try:
        text = data.decode('utf-8-sig')
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b'\n') + 1
        raise error_class(path, f'not valid UTF-8 text: {error.reason}', line=line) from None
    return CSVTable(path, text, error_class, delimiter)
