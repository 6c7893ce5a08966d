"""RemoteCount scoring: swap the number in a caption for 1..10 and rank the variants.

The paper (section IV-B2) takes each image's caption, writes ten variants with the number
replaced by "one" ... "ten" (or "1" ... "10"), and predicts the count whose variant is most
similar to the image. A caption without a number cannot be scored: it is skipped and counted.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from rs_vlm.metrics import CountingAccuracy

__all__ = [
    'NUMBER_WORDS',
    'CountingReport',
    'count_caption_variants',
    'dataset_captions',
    'find_count',
    'score_counting',
]

#: Count -> word, 1..10.
NUMBER_WORDS: tuple[str, ...] = (
    'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten',
)  # fmt: skip
_NUMBER = re.compile(
    r'\b(' + '|'.join(NUMBER_WORDS) + r'|10|[1-9])\b',
    flags=re.IGNORECASE,
)


def dataset_captions(dataset: Any) -> list[str]:
    """One caption per sample: the dataset's ``captions`` list, else each sample's ``caption``.

    Args:
        dataset: A counting dataset (:class:`~rs_vlm.datasets.RemoteCount` has ``captions``).

    Returns:
        The captions in dataset order.
    """
    captions = getattr(dataset, 'captions', None)
    if captions is not None and len(captions) == len(dataset):
        return [str(caption) for caption in captions]
    return [str(dataset[i]['caption']) for i in range(len(dataset))]


def find_count(caption: str) -> tuple[int, int, int] | None:
    """Locate the first count (1..10, as word or digits) in a caption.

    Args:
        caption: The caption.

    Returns:
        ``(count, start, end)`` of the match, or None when there is no number.
    """
    match = _NUMBER.search(caption)
    if match is None:
        return None
    token = match.group(1).lower()
    count = int(token) if token.isdigit() else NUMBER_WORDS.index(token) + 1
    return count, match.start(1), match.end(1)


def count_caption_variants(caption: str, style: str = 'word', max_count: int = 10) -> list[str]:
    """The ``max_count`` variants of a caption with its number replaced by 1..max_count.

    Args:
        caption: A caption holding a count (word or digits), e.g. 'There are three planes.'.
        style: 'word' ("one" ... "ten", keeping a leading capital) or 'digit' ("1" ... "10").
        max_count: How many variants.

    Returns:
        Variant j (0-based) states the count j + 1.

    Raises:
        ValueError: If the caption holds no number or ``style`` is unknown.
    """
    if style not in ('word', 'digit'):
        raise ValueError(f"style must be 'word' or 'digit', got {style!r}")
    found = find_count(caption)
    if found is None:
        raise ValueError(f'caption has no number (one..ten or 1..10): {caption!r}')
    _, start, end = found
    capital = caption[start].isupper()
    variants = []
    for count in range(1, max_count + 1):
        token = str(count) if style == 'digit' else NUMBER_WORDS[count - 1]
        if capital and style == 'word':
            token = token.capitalize()
        variants.append(caption[:start] + token + caption[end:])
    return variants


@dataclass
class CountingReport:
    """Result of :func:`score_counting`.

    Attributes:
        topk: Top-1..top-10 accuracy in percent.
        confusion: Confusion matrix (rows true count 1..10, columns predicted).
        confusion_normalized: Row-normalised confusion matrix.
        scored: Samples scored.
        skipped: ``(index, reason)`` of samples that could not be scored.
    """

    topk: list[float]
    confusion: list[list[int]]
    confusion_normalized: list[list[float]]
    scored: int
    skipped: list[tuple[int, str]] = field(default_factory=list)


def score_counting(
    image_features: Tensor,
    captions: Sequence[str],
    counts: Sequence[int] | Tensor,
    encode_texts: Callable[[list[str]], Tensor],
    style: str = 'word',
    max_count: int = 10,
) -> CountingReport:
    """Score counting captions against their images.

    Args:
        image_features: ``[N, D]`` L2-normalised image embeddings.
        captions: One caption per image, holding the true count.
        counts: True counts (1..max_count).
        encode_texts: Maps a list of strings to ``[len, D]`` L2-normalised embeddings.
        style: 'word' or 'digit' variants.
        max_count: Largest count.

    Returns:
        Accuracies, confusion matrices and the skipped samples with their reason.

    Raises:
        ValueError: When no sample can be scored.
    """
    counts = torch.as_tensor(counts).long().tolist()
    metric = CountingAccuracy(max_count)
    skipped: list[tuple[int, str]] = []
    scored_rows, scored_counts, variants = [], [], []
    for index, (caption, count) in enumerate(zip(captions, counts, strict=True)):
        if not 1 <= count <= max_count:
            skipped.append((index, f'count {count} outside 1..{max_count}'))
            continue
        try:
            variants.extend(count_caption_variants(caption, style, max_count))
        except ValueError as error:
            skipped.append((index, str(error)))
            continue
        scored_rows.append(index)
        scored_counts.append(count)
    if not scored_rows:
        raise ValueError(f'no RemoteCount sample could be scored ({len(skipped)} skipped)')
    text_features = encode_texts(variants).view(len(scored_rows), max_count, -1)
    images = image_features[torch.tensor(scored_rows, device=image_features.device)]
    scores = torch.einsum('nd,ncd->nc', images.float(), text_features.float().to(images.device))
    metric.update(scores.cpu(), torch.tensor(scored_counts))
    result = metric.compute()
    return CountingReport(
        topk=result['topk'].tolist(),
        confusion=result['confusion'].tolist(),
        confusion_normalized=result['confusion_normalized'].tolist(),
        scored=len(scored_rows),
        skipped=skipped,
    )
