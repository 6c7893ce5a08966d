"""Prompt templates: text with exactly one bare ``{}`` slot for the class name.

A template is filled with ``str.format``, whose mini-language can do much more than insert a
name: ``{:>999999999}`` pads to a gigabyte, ``{0.__class__}`` reads attributes. Templates
come from files and configs, so only the bare slot is accepted; ``{{`` and ``}}`` write
literal braces.
"""

import string
from collections.abc import Iterable

__all__ = ['check_template', 'check_templates']


def check_template(template: str) -> None:
    """Check that ``template`` has exactly one bare ``{}`` slot and no other replacement field.

    Args:
        template: The template.

    Raises:
        ValueError: Unbalanced braces, a field with a name, index, conversion or format spec
            (e.g. ``{:>9}``, ``{0}``, ``{name}``, ``{!r}``), or not exactly one slot.
    """
    if not isinstance(template, str):
        raise ValueError(f'template must be a string, got {type(template).__name__}')
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as error:
        raise ValueError(
            f"template {template!r} has unbalanced braces ({error}); write '{{{{' or '}}}}' "
            'for a literal brace'
        ) from None
    for name, spec, conversion in fields:
        if name or spec or conversion is not None:
            slot = (
                '{'
                + name
                + (f'!{conversion}' if conversion else '')
                + (f':{spec}' if spec else '')
                + '}'
            )
            raise ValueError(
                f'template {template!r} has the slot {slot!r}; only a bare {{}} is allowed '
                '(no names, indexes, conversions or format specs)'
            )
    if len(fields) != 1:
        raise ValueError(f"template {template!r} has {len(fields)} '{{}}' slots, expected one")


def check_templates(templates: Iterable[str]) -> list[str]:
    """Check every template (see :func:`check_template`) and return them as a list.

    Args:
        templates: The templates.

    Returns:
        The templates.

    Raises:
        ValueError: A template is not valid, or there is none.
    """
    checked = list(templates)
    if not checked:
        raise ValueError("no prompt templates; expected at least one with a '{}' slot")
    for template in checked:
        check_template(template)
    return checked
