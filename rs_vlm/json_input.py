"""JSON parsing that turns every way a JSON text can be bad into one of our errors.

``json.loads`` raises ``JSONDecodeError`` for syntax errors, but also ``RecursionError`` for
deeply nested arrays (``[[[[...``), a plain ``ValueError`` for integers longer than Python's
``sys.get_int_max_str_digits()`` (4300 digits) and ``UnicodeDecodeError`` for bytes that are
not UTF-8/16/32. :func:`parse_json` maps all of them onto the caller's
:class:`~rs_vlm.errors.InputError` subclass, naming the file and line.
"""

import json
from pathlib import Path
from typing import Any

from rs_vlm.errors import InputError

__all__ = ['parse_json']


def parse_json(
    data: str | bytes,
    path: str | Path,
    error_class: type[InputError],
    *,
    line: int | None = None,
    key: str | None = None,
) -> Any:
    """Parse a JSON document (or one JSON Lines line) or raise ``error_class``.

    Args:
        data: The JSON text or its encoded bytes.
        path: The file it came from, named in the error.
        error_class: The :class:`~rs_vlm.errors.InputError` subclass to raise.
        line: The line ``data`` starts on (JSON Lines), added to the line of a syntax error.
        key: The key or member the text came from (e.g. a tar member), named in the error.

    Returns:
        The parsed value.

    Raises:
        InputError: ``error_class``, for malformed, too deeply nested, non-UTF text or a
            number too long to convert.
    """
    first = line or 1
    try:
        return json.loads(data)
    except json.JSONDecodeError as error:
        raise error_class(
            path, f'not valid JSON: {error.msg}', line=first + error.lineno - 1, key=key
        ) from None
    except UnicodeDecodeError as error:
        assert isinstance(data, bytes)
        where = first + data[: error.start].count(b'\n')
        raise error_class(path, f'not UTF-8 text: {error.reason}', line=where, key=key) from None
    except RecursionError:
        raise error_class(
            path, 'not valid JSON: nested too deeply to parse', line=line, key=key
        ) from None
    except ValueError as error:
        # Python refuses to convert integers of more than 4300 digits (CVE-2020-10735).
        raise error_class(
            path, f'not valid JSON: a number cannot be read ({error})', line=line, key=key
        ) from None
