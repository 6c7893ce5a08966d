"""Config files with unknown keys: name the key and the closest valid one.

jsonargparse (under ``LightningCLI``) reports an unknown key as ``Option 'lrr' is not accepted``
for a class's ``init_args`` or ``Subcommand 'fit' does not accept option 'trainer.max_step'``
for the rest, without saying what was meant. :class:`SuggestingArgumentParser` adds a line per
unknown key with the closest valid spellings (``difflib``), read from the class signature or
the parser's own keys.
"""

import difflib
import importlib
import inspect
import re
from collections.abc import Iterable
from typing import Any, NoReturn

from lightning.pytorch.cli import LightningArgumentParser

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


def _parser_keys(parser: Any, subcommand: str | None) -> list[str]:
    if subcommand:
        action = getattr(parser, '_subcommands_action', None)
        choices = getattr(action, 'choices', None) or {}
        parser = choices.get(subcommand, parser)
    return [action.dest for action in getattr(parser, '_actions', []) if action.dest]


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
    return hints


def _hint(key: str, where: str, matches: list[str]) -> str:
    if matches:
        options = ' or '.join(repr(match) for match in matches)
        return f'unknown key {key!r} in {where}: did you mean {options}?'
    return f'unknown key {key!r} in {where}: no valid key is close to it'


class SuggestingArgumentParser(LightningArgumentParser):
    """``LightningArgumentParser`` whose errors add the closest valid key for unknown keys."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        """Add "did you mean" lines to ``message``, then report it as jsonargparse does.

        Args:
            message: The error message.
            ex: The exception behind it.
        """
        hints = suggest_config_keys(message, self)
        if hints:
            message = message.rstrip() + '\n' + '\n'.join(hints)
        super().error(message, ex)
