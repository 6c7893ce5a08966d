"""Screen the hyper-parameters of a ``--ckpt_path`` checkpoint before they reach the config.

``LightningCLI`` parses a checkpoint's ``hyper_parameters`` into the run's config, so a file that
passes ``weights_only`` loading could still name any importable ``class_path`` (jsonargparse
imports it) and, merged on top of the config, silently replace values the user gave on the
command line. :func:`screen_checkpoint_hyperparameters` lets through only values that cannot
import anything the config does not already name: no ``class_path`` other than the config's
own, for parameters whose type makes jsonargparse import (callables, classes, modules) no
value other than the config's, and no ``${...}`` interpolation (omegaconf would resolve it).
:func:`differing_values` lists where the user's config and the checkpoint disagree, so the
run can say which of its values won.
"""

import inspect
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePath
from typing import Any

from rs_vlm.errors import CheckpointError

__all__ = ['config_class_paths', 'differing_values', 'screen_checkpoint_hyperparameters']

#: Keys Lightning adds to the saved hyper-parameters (not ``__init__`` arguments).
_LIGHTNING_KEYS = ('_instantiator', '_class_path')
_PLAIN_TYPES = (str, int, float, bool, type(None), Path, PurePath, list, tuple, dict, set)


def _walk_class_paths(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in ('class_path', '_class_path') and isinstance(item, str):
                yield item
            yield from _walk_class_paths(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk_class_paths(item)


def _walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk_strings(key)
            yield from _walk_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk_strings(item)


def config_class_paths(config: Mapping[str, Any]) -> set[str]:
    """Every ``class_path`` a (dict-form) config names, at any depth.

    Args:
        config: The parsed config as a plain dict.

    Returns:
        The dotted class paths.
    """
    return set(_walk_class_paths(config))


def _plain_annotation(annotation: Any) -> bool:
    """Whether jsonargparse parses values of this type without importing anything."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return True
    if origin in (typing.Union, types.UnionType) or origin in _PLAIN_TYPES:
        return all(_plain_annotation(arg) for arg in typing.get_args(annotation) if arg is not ...)
    if origin is not None:
        return False  # Callable[...], type[...], Iterable[...] of classes...
    return isinstance(annotation, type) and issubclass(annotation, _PLAIN_TYPES)


def _init_parameters(cls: type) -> dict[str, inspect.Parameter]:
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable forward references: fall back to raw annotations
        hints = {}
    parameters = {}
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if name == 'self' or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        parameters[name] = parameter.replace(annotation=hints.get(name, parameter.annotation))
    return parameters


def screen_checkpoint_hyperparameters(
    path: str | Path,
    hyperparameters: Mapping[str, Any],
    model_class: type,
    class_path: str,
    config_init_args: Mapping[str, Any],
    allowed_class_paths: set[str],
) -> tuple[dict[str, Any], list[str]]:
    """The checkpoint's hyper-parameters that are safe to merge under the config.

    Args:
        path: The checkpoint (named in errors).
        hyperparameters: Its ``hyper_parameters`` entry.
        model_class: The model class the config names.
        class_path: How the config names it.
        config_init_args: The config's ``init_args`` for that class (plain values).
        allowed_class_paths: The class paths the config names.

    Returns:
        ``(safe hyper-parameters, ignored keys)``: keys that are not ``__init__`` arguments of
        ``model_class`` are ignored (listed so the caller can say so).

    Raises:
        CheckpointError: The checkpoint names a class the config does not, was written by
            another model class, sets an importing parameter to another value than the
            config, or holds a ``${...}`` interpolation. The message names the file and key.
    """
    written_by = hyperparameters.get('_class_path')
    wanted = class_path
    if written_by is not None and written_by != wanted and written_by not in allowed_class_paths:
        raise CheckpointError(
            path,
            f'was written by model class {written_by!r}, but the config names {wanted!r}; '
            'give the matching model class_path in the config',
            key='hyper_parameters._class_path',
        )
    parameters = _init_parameters(model_class)
    safe: dict[str, Any] = {}
    ignored: list[str] = []
    for key, value in hyperparameters.items():
        if key in _LIGHTNING_KEYS:
            continue
        if key not in parameters:
            ignored.append(key)
            continue
        named = sorted(set(_walk_class_paths(value)) - allowed_class_paths)
        if named:
            raise CheckpointError(
                path,
                f'hyper-parameter names class {named[0]!r}, which the config does not name; '
                'refusing to import it. Name it in the config if it is trusted',
                key=f'hyper_parameters.{key}',
            )
        if any('${' in text for text in _walk_strings(value)):
            raise CheckpointError(
                path,
                'hyper-parameter holds a ${...} interpolation, which the config parser would '
                'resolve (environment variables, resolvers); set it in the config instead',
                key=f'hyper_parameters.{key}',
            )
        annotation = parameters[key].annotation
        if not _plain_annotation(annotation) and _plain(value) != _plain(
            config_init_args.get(key, parameters[key].default)
        ):
            raise CheckpointError(
                path,
                f'hyper-parameter of type {annotation} would be imported by the config parser '
                f'and differs from the config ({value!r}); set it in the config instead',
                key=f'hyper_parameters.{key}',
            )
        safe[key] = value
    return safe, ignored


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, PurePath):
        return str(value)
    return value


def differing_values(
    checkpoint: Mapping[str, Any], final: Mapping[str, Any]
) -> list[tuple[str, Any, Any]]:
    """``(key, checkpoint value, final value)`` for each key the two disagree on.

    Args:
        checkpoint: Screened checkpoint hyper-parameters.
        final: The config's final ``init_args``.

    Returns:
        The differences, sorted by key.
    """
    return [
        (key, value, final.get(key))
        for key, value in sorted(checkpoint.items())
        if key in final and _plain(value) != _plain(final[key])
    ]
