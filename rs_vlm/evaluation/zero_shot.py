"""Zero-shot scene classification: template-ensemble class embeddings, logits, top-k accuracy.

Class embeddings follow ITRA, the code RemoteCLIP's numbers come from: the prompts of a class
are encoded, their **unnormalised** embeddings averaged, and the mean L2-normalised. open_clip's
``build_zero_shot_classifier`` normalises each prompt embedding before averaging; that recipe
is available with ``normalise_prompts=True``. Both encode every prompt of every class in one
batched call (open_clip's also runs its classes in batches, not one forward per class).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.functional.classification import multiclass_accuracy

from rs_vlm.prompt_templates import check_templates

__all__ = [
    'LOGIT_SCALE',
    'ZeroShotResult',
    'build_zero_shot_classifier',
    'top_k_accuracies',
    'zero_shot_accuracy',
]

#: Scale of the zero-shot logits ``100 * image @ classes.T`` (CLIP's and RemoteCLIP's).
LOGIT_SCALE = 100.0


def build_zero_shot_classifier(
    encode_texts: Callable[[list[str]], Tensor],
    classes: Sequence[str],
    templates: Sequence[str],
    *,
    normalise_prompts: bool = False,
) -> Tensor:
    """Class embeddings from template-ensembled prompts.

    Args:
        encode_texts: ``list[str] -> [N, D]`` text embeddings, **not** normalised (the ITRA
            recipe averages raw embeddings; normalised input gives open_clip's recipe).
        classes: Class names.
        templates: Prompt templates with one bare ``{}`` slot.
        normalise_prompts: L2-normalise each prompt embedding before averaging (open_clip's
            recipe) instead of averaging the raw embeddings (ITRA's, the paper's).

    Returns:
        ``[C, D]`` L2-normalised class embeddings.

    Raises:
        ValueError: If there are no classes or no templates, or a template is not one bare
            ``{}`` slot in text (e.g. ``{:>999999999}``).
    """
    if not classes or not templates:
        raise ValueError(
            f'a zero-shot classifier needs classes and templates, got {len(classes)} classes '
            f'and {len(templates)} templates'
        )
    templates = check_templates(templates)  # before anything is built or encoded
    prompts = [template.format(name) for name in classes for template in templates]
    features = encode_texts(prompts).float().view(len(classes), len(templates), -1)
    if normalise_prompts:
        features = F.normalize(features, dim=-1)
    return F.normalize(features.mean(dim=1), dim=-1)


def top_k_accuracies(logits: Tensor, labels: Tensor, top_k: Sequence[int]) -> dict[str, float]:
    """Micro-averaged top-k accuracy in percent (k capped at the number of classes).

    Args:
        logits: ``[N, C]`` scores.
        labels: ``[N]`` class ids.
        top_k: The k values.

    Returns:
        ``{'top1': ..., 'top5': ...}``.
    """
    num_classes = logits.shape[1]
    return {
        f'top{k}': float(
            multiclass_accuracy(
                logits, labels, num_classes, top_k=min(k, num_classes), average='micro'
            )
            * 100
        )
        for k in top_k
    }


@dataclass
class ZeroShotResult:
    """Outcome of :func:`zero_shot_accuracy`.

    Attributes:
        accuracies: ``{'top1': ..., 'top5': ...}`` in percent.
        logits: ``[N, C]`` ``100 * image @ classes.T``.
        labels: ``[N]`` true classes.
    """

    accuracies: dict[str, float]
    logits: Tensor
    labels: Tensor


def zero_shot_accuracy(
    image_features: Tensor,
    labels: Tensor,
    classifier: Tensor,
    top_k: Sequence[int] = (1, 5),
    name: str = 'dataset',
) -> ZeroShotResult:
    """Classify L2-normalised image features with a zero-shot classifier.

    Args:
        image_features: ``[N, D]`` L2-normalised image embeddings.
        labels: ``[N]`` true class ids.
        classifier: ``[C, D]`` class embeddings (:func:`build_zero_shot_classifier`).
        top_k: Accuracies to report.
        name: Dataset name for error messages.

    Returns:
        Accuracies, logits and labels.

    Raises:
        ValueError: A label outside ``0..C-1`` (the class list does not match the data).
    """
    num_classes = classifier.shape[0]
    labels = labels.to(image_features.device).long()
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f'zero-shot dataset {name!r}: label {int(labels.max())} does not fit its '
            f'{num_classes} classes; the class list does not match the data'
        )
    # float32 logits also inside a bf16/fp16 autocast region (a callback under a mixed-precision
    # trainer): reduced-precision logits tie close classes and change the accuracy
    with torch.autocast(image_features.device.type, enabled=False):
        classifier = classifier.to(image_features.device).float()
        logits = LOGIT_SCALE * image_features.float() @ classifier.T
    return ZeroShotResult(top_k_accuracies(logits, labels, top_k), logits, labels)
