"""Config files and options with unknown keys: name the key and the closest valid one.

jsonargparse (under ``LightningCLI``) reports an unknown key as ``Option 'lrr' is not accepted``
for a class's ``init_args``, ``Subcommand 'fit' does not accept option 'trainer.max_step'``
for the rest of a config, and ``unrecognized arguments: --trainer.max_stepz`` for the command
line, without saying what was meant and after a usage block of some fifty lines.
:class:`SuggestingArgumentParser` adds a line per unknown key with the closest valid spellings
(``difflib``), read from the class signature or the parser's own keys, and prints the error
with a pointer to ``--help`` instead of the usage block.
"""

import difflib
import importlib
import inspect
import os
import re
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

from lightning.pytorch.cli import LightningArgumentParser

from rs_vlm.console import unknown_option_hints

__all__ = ['SuggestingArgumentParser', 'class_init_keys', 'suggest_config_keys']

_CLASS_OPTION = re.compile(
    r"class_path '(?P<cls>[\w.]+)'[^\n]*\n\s*Option '(?P<key>[^']+)' is not accepted"
)
_PARSER_OPTION = re.compile(
    r"(?:Subcommand '(?P<sub>[\w-]+)' )?does not accept option '(?P<key>[^']+)'"
)


def class_init_keys(class_path: str) -> list[str]:
    """The keyword parameters of a class's ``__init__`` (empty when it cannot be imported).

    Args:
        class_path: Dotted path, e.g. ``rs_vlm.modules.RemoteCLIPModule``.

    Returns:
        Parameter names, without ``*args``/``**kwargs``.
    """
    module_name, _, name = class_path.rpartition('.')
    try:
        cls = getattr(importlib.import_module(module_name), name)
        parameters = inspect.signature(cls).parameters.values()
    except (ImportError, AttributeError, TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [parameter.name for parameter in parameters if parameter.kind in kinds]


def _closest(key: str, valid: Iterable[str]) -> list[str]:
    valid = sorted(set(valid))
    matches = difflib.get_close_matches(key, valid, n=3, cutoff=0.6)
    if not matches and '.' in key:
        # 'modl.class_path' -> compare the first part with the first parts of valid keys
        head = key.split('.')[0]
        heads = sorted({name.split('.')[0] for name in valid})
        matches = difflib.get_close_matches(head, heads, n=3, cutoff=0.6)
    return matches


def _subparser(parser: Any, subcommand: str | None) -> Any:
    if subcommand:
        action = getattr(parser, '_subcommands_action', None)
        choices = getattr(action, 'choices', None) or {}
        parser = choices.get(subcommand, parser)
    return parser


def _parser_keys(parser: Any, subcommand: str | None) -> list[str]:
    parser = _subparser(parser, subcommand)
    return [action.dest for action in getattr(parser, '_actions', []) if action.dest]


def _option_strings(parser: Any) -> list[str]:
    actions = getattr(parser, '_actions', [])
    return [option for action in actions for option in action.option_strings]


def suggest_config_keys(message: str, parser: Any = None) -> list[str]:
    """Hints for each unknown key that a jsonargparse error message names.

    Args:
        message: The parser's error message.
        parser: The parser that failed (for its valid keys); class keys need none.

    Returns:
        One line per unknown key: the key and the closest valid keys (or that there is none).
    """
    hints = []
    for match in _CLASS_OPTION.finditer(message):
        key, class_path = match['key'], match['cls']
        matches = _closest(key, class_init_keys(class_path))
        hints.append(_hint(key, f'{class_path} init_args', matches))
    for match in _PARSER_OPTION.finditer(message):
        key = match['key']
        matches = _closest(key, _parser_keys(parser, match['sub'])) if parser is not None else []
        hints.append(_hint(key, 'the config', matches))
    if parser is not None:
        hints.extend(unknown_option_hints(message, _option_strings(parser)))
    return hints


def _hint(key: str, where: str, matches: list[str]) -> str:
    if matches:
        options = ' or '.join(repr(match) for match in matches)
        return f'unknown key {key!r} in {where}: did you mean {options}?'
    return f'unknown key {key!r} in {where}: no valid key is close to it'


class SuggestingArgumentParser(LightningArgumentParser):
    """``LightningArgumentParser`` whose errors add the closest valid key for unknown keys."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        """Add "did you mean" lines to ``message``; print it and where to find help; exit 2.

        Raising instead of exiting (``exit_on_error=False``, ``JSONARGPARSE_DEBUG``, an error
        handler) is left to jsonargparse.

        Args:
            message: The error message.
            ex: The exception behind it.
        """
        parser = getattr(ex, 'subcommand_parser', None) or self
        hints = suggest_config_keys(message, parser)
        if hints:
            message = message.rstrip() + '\n' + '\n'.join(hints)
        if (
            not self.exit_on_error
            or os.environ.get('JSONARGPARSE_DEBUG')
            or callable(getattr(self, '_error_handler', None))
        ):
            super().error(message, ex)
        self._logger.error(message)
        prog = parser.prog.replace(' [options]', '')
        sys.stderr.write(f"error: {message}\nrun '{prog} --help' for the accepted options\n")
        self.exit(2)
