"""Command-line plumbing shared by the ``rs-vlm`` subcommands: parser and log level.

:class:`CommandParser` is ``argparse.ArgumentParser`` whose errors suggest the closest option
for a mistyped one (``--data-rot`` -> ``--data-root``) and print one line instead of the usage
block. :func:`configure_logging` keeps library INFO logs (open_clip, huggingface_hub) off
unless ``-v`` is given; rs_vlm's own INFO lines (progress of long runs) stay on.
"""

import argparse
import difflib
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from typing import NoReturn

__all__ = [
    'CommandParser',
    'add_verbose_option',
    'closest_options',
    'configure_logging',
    'unknown_option_hints',
]

_UNRECOGNIZED = re.compile(r'unrecognized arguments: (?P<args>.*)')


def closest_options(typed: str, valid: Iterable[str]) -> list[str]:
    """The valid options closest to a mistyped one (best first, at most three).

    Args:
        typed: What was typed, e.g. ``--data-rot`` or ``--trainer.max_stepz=3``.
        valid: The accepted option strings.

    Returns:
        Close matches, possibly none.
    """
    typed = typed.split('=', 1)[0]
    choices = sorted({option for option in valid if option.startswith('--')})
    return difflib.get_close_matches(typed, choices, n=3, cutoff=0.6)


def unknown_option_hints(
    message: str, valid: Iterable[str], argv: Sequence[str] | None = None
) -> list[str]:
    """One "did you mean" line per unknown option.

    Unknown options are those an ``unrecognized arguments`` error names and, when ``argv``
    is given, every ``--option`` in it that is neither an accepted option nor the unique
    prefix of one (argparse reports a missing required option before unknown ones).

    Args:
        message: The parser's error message.
        valid: The accepted option strings.
        argv: The arguments that were parsed.

    Returns:
        The hint lines (empty when there is no unknown option).
    """
    valid = list(valid)
    match = _UNRECOGNIZED.search(message)
    tokens = match['args'].split() if match else []
    for token in argv or ():
        name = token.split('=', 1)[0]
        if token.startswith('--') and name not in valid:
            if len([option for option in valid if option.startswith(name)]) != 1:
                tokens.append(token)
    hints: list[str] = []
    seen: set[str] = set()
    for token in tokens:
        name = token.split('=', 1)[0]
        if not token.startswith('--') or name in seen:
            continue
        seen.add(name)
        matches = closest_options(name, valid)
        if matches:
            hints.append(f'unknown option {name}: did you mean {" or ".join(matches)}?')
        else:
            hints.append(f'unknown option {name}: no accepted option is close to it')
    return hints


class CommandParser(argparse.ArgumentParser):
    """``ArgumentParser`` with "did you mean" for mistyped options and a one-line error."""

    _argv: Sequence[str] | None = None

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse as argparse does, remembering the arguments for the error hints."""
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        """Print the error, the closest options and where to find help; exit with 2.

        Args:
            message: argparse's error message.
        """
        options = [option for action in self._actions for option in action.option_strings]
        hints = unknown_option_hints(message, options, self._argv)
        lines = [f'{self.prog}: error: {message}', *hints]
        lines.append(f"run '{self.prog} --help' for the accepted options")
        self.exit(2, '\n'.join(lines) + '\n')


def add_verbose_option(parser: argparse.ArgumentParser) -> None:
    """Add ``-v/--verbose`` (library INFO logs on).

    Args:
        parser: The parser to extend.
    """
    parser.add_argument(
        '-v', '--verbose', action='store_true', help="show libraries' INFO logs too"
    )


def configure_logging(verbose: bool = False) -> None:
    """Log to stderr: rs_vlm at INFO, other libraries at WARNING (INFO with ``verbose``).

    Args:
        verbose: Show the INFO logs of every library.
    """
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(
        level=level, format='%(levelname)s %(name)s: %(message)s', stream=sys.stderr
    )
    logging.getLogger().setLevel(level)
    logging.getLogger('rs_vlm').setLevel(logging.INFO)
