"""Check a command's output paths before it reads or computes anything.

Every ``rs-vlm`` tool calls :func:`check_output_paths` right after parsing its arguments, so a
run that could only fail at the end (an output that is a folder, a read-only folder) or would
destroy its own input (``--output`` naming the annotations file, a corpus, the checkpoint)
stops at once with an :class:`~rs_vlm.errors.OutputPathError` naming the option and the path.
"""

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from rs_vlm.errors import OutputPathError

__all__ = ['check_output_paths', 'same_path']

PathArgument = str | os.PathLike[str] | None
InputArgument = PathArgument | Iterable[str | os.PathLike[str]]


def same_path(first: str | os.PathLike[str], second: str | os.PathLike[str]) -> bool:
    """Whether two names reach the same file: equal real paths, or the same inode (hard links).

    Args:
        first: A path (need not exist).
        second: Another path (need not exist).

    Returns:
        True when writing one would overwrite the other.
    """
    if os.path.realpath(first) == os.path.realpath(second):
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist (yet)
        return False


def _inside(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    real, base = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    return real == base or base in real.parents


def _writable_folder(option: str, path: Path, kind: str) -> None:
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputPathError(path, f'cannot write {option}: {existing} is a file, not a folder')
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputPathError(path, f'cannot write {option}: folder {existing} is not writable')
    if kind == 'file':
        if path.is_dir():
            raise OutputPathError(path, f'{option} is a folder; expected a file name')
        if path.exists() and not os.access(path, os.W_OK):
            raise OutputPathError(path, f'{option} exists and is read-only')
    elif path.exists() and not path.is_dir():
        raise OutputPathError(path, f'{option} is a file; expected a folder')


def _inputs(value: InputArgument) -> list[str | os.PathLike[str]]:
    if value is None:
        return []
    if isinstance(value, str | os.PathLike):
        return [value]
    return list(value)


def check_output_paths(
    outputs: Mapping[str, PathArgument],
    inputs: Mapping[str, InputArgument],
    *,
    folders: Iterable[str] = (),
    replaced: Iterable[str] = (),
) -> None:
    """Refuse outputs that equal an input, each other, or cannot be written.

    Call it before any input is read. ``None`` values (options not given) are ignored.

    Args:
        outputs: Option name (e.g. ``'--output'``) -> the path it names.
        inputs: Option name -> an input path or list of paths.
        folders: Output options that name a folder (all others name files).
        replaced: Folder outputs that are replaced as a whole: they must not contain any input.

    Raises:
        OutputPathError: An output is an input, two outputs are one file, a file output is a
            folder (or the reverse), or its folder is not writable. The message names the
            option and the path.
    """
    replaced_options = set(replaced)
    folder_options = set(folders) | replaced_options
    given = {option: Path(path) for option, path in outputs.items() if path is not None}
    for option, path in given.items():
        for input_option, value in inputs.items():
            for source in _inputs(value):
                if same_path(path, source):
                    raise OutputPathError(
                        path,
                        f'{option} is the same file as the input {input_option}; writing it '
                        'would destroy the input. Choose another output path',
                    )
                if option in replaced_options and _inside(source, path):
                    raise OutputPathError(
                        path,
                        f'{option} folder contains the input {input_option} ({source}) and is '
                        'replaced as a whole; choose an output folder outside the inputs',
                    )
        for other, other_path in given.items():
            if other < option and same_path(path, other_path):
                raise OutputPathError(
                    path, f'{option} and {other} name the same file; give them different paths'
                )
        _writable_folder(option, path, 'folder' if option in folder_options else 'file')
