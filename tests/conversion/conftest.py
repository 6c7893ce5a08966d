"""Helpers for the conversion tests: an independent reader of B2C captions."""

import re
from collections.abc import Callable, Iterable

import pytest

QUANTIFIERS = ('many', 'a lot of', 'lots of')


def parse_counts(caption: str, names: Iterable[tuple[str, str]]) -> dict[str, int | str]:
    """Counts stated in a caption for each (singular, plural) name: an int or 'many'."""
    found: dict[str, int | str] = {}
    text = caption.lower()
    for singular, plural in names:
        many = re.search(rf'(?:^|[ ,])(?:many|a lot of|lots of) {re.escape(plural)}\b', text)
        number = re.search(rf'(?:^|[ ,])(\d+) {re.escape(plural)}\b', text)
        one = re.search(rf'(?:^|[ ,])an? {re.escape(singular)}\b', text)
        hits = [h for h in (many, number, one) if h]
        assert len(hits) <= 1, f'{singular!r} stated twice in {caption!r}'
        if many:
            found[singular] = 'many'
        elif number:
            found[singular] = int(number.group(1))
        elif one:
            found[singular] = 1
    return found


def expected_wording(count: int, threshold: int = 10) -> int | str:
    """What a caption must say for a count: the number, or 'many' above the threshold."""
    return 'many' if count > threshold else count


@pytest.fixture
def parse() -> Callable[[str, Iterable[tuple[str, str]]], dict[str, int | str]]:
    return parse_counts


@pytest.fixture
def wording() -> Callable[[int], int | str]:
    return expected_wording
