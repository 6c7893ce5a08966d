"""Read README.md's fenced code blocks and the commands CI runs (.ci/run, Makefile)."""

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    'CodeBlock',
    'ShellCommand',
    'ci_commands',
    'readme_blocks',
    'shell_commands',
]

_FENCE_OPEN = re.compile(r'^(?P<indent>[ \t]*)```(?P<language>[\w+-]*)\s*$')
_FENCE_CLOSE = re.compile(r'^[ \t]*```\s*$')
_MAKE_VARIABLE = re.compile(r'^(?P<name>[A-Z_]+)\s*[?:]?=\s*(?P<value>.*)$')


@dataclass(frozen=True)
class CodeBlock:
    """A fenced code block of a Markdown file.

    Attributes:
        language: The info string after the opening fence (``bash``, ``python``, ``''``).
        text: The block's content, de-indented by the fence's own indentation.
        line: 1-based line number of the block's first content line.
    """

    language: str
    text: str
    line: int


@dataclass(frozen=True)
class ShellCommand:
    """One command of a shell block: a line with ``\\`` continuations joined, comments dropped.

    Attributes:
        tokens: The words as the shell would split them.
        line: 1-based README line the command starts on.
    """

    tokens: tuple[str, ...]
    line: int

    @property
    def text(self) -> str:
        """The command as one normalised line."""
        return shlex.join(self.tokens)


def readme_blocks(path: Path) -> list[CodeBlock]:
    """Every fenced code block of a Markdown file, in order.

    Args:
        path: The Markdown file.

    Returns:
        The blocks.

    Raises:
        ValueError: A fence is never closed (names the line it opened on).
    """
    lines = path.read_text(encoding='utf-8').splitlines()
    blocks: list[CodeBlock] = []
    index = 0
    while index < len(lines):
        opening = _FENCE_OPEN.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent = len(opening['indent'])
        start = index + 1
        end = start
        while end < len(lines) and not _FENCE_CLOSE.match(lines[end]):
            end += 1
        if end == len(lines):
            raise ValueError(f'{path}:{index + 1}: code fence is never closed')
        body = [line[indent:] if line[:indent].strip() == '' else line for line in lines[start:end]]
        blocks.append(CodeBlock(opening['language'], '\n'.join(body) + '\n', start + 1))
        index = end + 1
    return blocks


def shell_commands(block: CodeBlock) -> list[ShellCommand]:
    """The commands of a shell block (blank and comment-only lines skipped).

    Args:
        block: A ``bash`` block.

    Returns:
        One entry per command line, ``\\`` continuations joined.
    """
    commands: list[ShellCommand] = []
    pending, first_line = '', 0
    for offset, raw in enumerate(block.text.splitlines()):
        if not pending:
            first_line = block.line + offset
        if raw.rstrip().endswith('\\'):
            pending += raw.rstrip()[:-1] + ' '
            continue
        tokens = shlex.split(pending + raw, comments=True)
        pending = ''
        if tokens:
            commands.append(ShellCommand(tuple(tokens), first_line))
    return commands


def _split_and(tokens: list[str]) -> list[tuple[str, ...]]:
    """``a && b`` -> ``[a, b]`` (as token tuples)."""
    parts: list[list[str]] = [[]]
    for token in tokens:
        if token == '&&':
            parts.append([])
        else:
            parts[-1].append(token)
    return [tuple(part) for part in parts if part]


def ci_commands(ci_script: Path, makefile: Path) -> set[tuple[str, ...]]:
    """Every simple command ``.ci/run`` and the Makefile's recipes run, as token tuples.

    Makefile variables set with ``?=``/``=``/``:=`` are expanded (``$(VENV)/bin/pip`` ->
    ``.venv/bin/pip``); commands joined with ``&&`` count separately.

    Args:
        ci_script: The CI shell script.
        makefile: The Makefile.

    Returns:
        The commands.
    """
    commands: set[tuple[str, ...]] = set()
    for line in ci_script.read_text(encoding='utf-8').splitlines():
        if line.strip() and not line.lstrip().startswith('#'):
            try:
                commands.update(_split_and(shlex.split(line, comments=True)))
            except ValueError:  # shell syntax shlex cannot split (none of our commands)
                continue
    variables: dict[str, str] = {}
    recipes: list[str] = []
    for line in makefile.read_text(encoding='utf-8').splitlines():
        match = _MAKE_VARIABLE.match(line)
        if match:
            variables[match['name']] = match['value'].strip()
        elif line.startswith('\t'):
            recipes.append(line.strip())
    for recipe in recipes:
        for name, value in variables.items():
            recipe = recipe.replace(f'$({name})', value)
        commands.update(_split_and(shlex.split(recipe, comments=True)))
    return commands
