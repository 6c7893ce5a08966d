"""Config files checked for size and YAML alias expansion before LightningCLI parses them.

YAML anchors and aliases let a few hundred bytes describe a billion nodes
(``a: &a [x, x, ...]``, ``b: &b [*a, *a, ...]``, ...). PyYAML keeps aliases as shared
references, but jsonargparse and omegaconf copy them into plain containers, and a run hangs
with the memory climbing. :func:`check_config_arguments` composes each config the command line
names (without constructing it), counts the nodes it would expand to and refuses, naming the
file, a config over :data:`MAX_CONFIG_NODES` nodes or :data:`MAX_CONFIG_BYTES` bytes.
"""

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import yaml

from rs_vlm.errors import InputError

__all__ = ['MAX_CONFIG_BYTES', 'MAX_CONFIG_NODES', 'check_config_arguments', 'check_config_text']

#: Largest config file read (configs are a few kilobytes).
MAX_CONFIG_BYTES: Final = 1 << 20

#: Most YAML nodes a config may expand to once aliases are copied.
MAX_CONFIG_NODES: Final = 100_000

_CONFIG_SUFFIXES = ('.yaml', '.yml', '.json')
_OPTION_FILE = re.compile(r'^--?[\w.-]+=(?P<value>.+)$', re.DOTALL)


def _expanded_size(root: yaml.Node, source: str) -> int:
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in visiting:
            raise InputError(source, 'a YAML alias refers to itself (a recursive anchor)')
        visiting.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child)
                if total > MAX_CONFIG_NODES:
                    break
        elif isinstance(node, yaml.MappingNode):
            for name, value in node.value:
                total += size(name) + size(value)
                if total > MAX_CONFIG_NODES:
                    break
        visiting.discard(key)
        sizes[key] = total
        return total

    return size(root)


def check_config_text(text: str, source: str) -> None:
    """Refuse YAML that expands (through aliases) to more than :data:`MAX_CONFIG_NODES` nodes.

    Text that is not valid YAML passes: the config parser reports it as it always does.

    Args:
        text: YAML (or JSON) text.
        source: The file or option it came from, named in the error.

    Raises:
        InputError: Too many nodes once aliases are expanded, or a recursive alias.
    """
    if '*' not in text:
        return  # no alias: the node count is bounded by the text's length
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        sizes = [_expanded_size(node, source) for node in nodes if node is not None]
    except yaml.YAMLError:
        return
    except RecursionError:
        raise InputError(source, 'YAML nested too deeply to read') from None
    for total in sizes:
        if total > MAX_CONFIG_NODES:
            raise InputError(
                source,
                f'YAML aliases expand to more than {MAX_CONFIG_NODES:,} nodes (an alias bomb?); '
                'write the values out or use fewer nested aliases',
            )


def check_config_arguments(argv: Sequence[str]) -> None:
    """Check every config file and inline YAML value on a LightningCLI command line.

    Files are the values of ``--config`` / ``-c`` and any argument naming an existing
    ``.yaml``/``.yml``/``.json`` file (jsonargparse also reads a group's values from a file).

    Args:
        argv: The arguments after the subcommand (or with it).

    Raises:
        InputError: A config file over :data:`MAX_CONFIG_BYTES` bytes, unreadable, or
            expanding to too many nodes.
    """
    values: list[str] = []
    for position, argument in enumerate(argv):
        match = _OPTION_FILE.match(argument)
        if match:
            values.append(match['value'])
        elif not argument.startswith('-') or argument in ('-',):
            values.append(argument)
        if argument in ('--config', '-c') and position + 1 < len(argv):
            values.append(argv[position + 1])
    for value in dict.fromkeys(values):
        path = Path(value)
        is_file = (
            len(value) < 4096 and '\n' not in value and path.suffix.lower() in _CONFIG_SUFFIXES
        )
        if is_file and path.is_file():
            size = path.stat().st_size
            if size > MAX_CONFIG_BYTES:
                raise InputError(
                    path, f'config of {size:,} bytes is over the limit of {MAX_CONFIG_BYTES:,}'
                )
            try:
                text = path.read_text(encoding='utf-8')
            except (OSError, UnicodeDecodeError) as error:
                raise InputError(path, f'cannot read config: {error}') from None
            check_config_text(text, str(path))
        elif len(value) <= MAX_CONFIG_BYTES:
            check_config_text(value, 'the command line')
