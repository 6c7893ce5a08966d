"""Independent reference computations: ITRA's and open_clip's zero-shot classifiers, plain loops."""

from pathlib import Path

import open_clip.zero_shot_classifier
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from rs_vlm.prediction import LoadedModel


def image_features(loaded: LoadedModel, files: list[Path]) -> Tensor:
    """``normalize(model.encode_image(preprocess(PIL image)))``, one image at a time."""
    model, preprocess, _ = loaded
    rows = []
    with torch.no_grad():
        for file in files:
            with Image.open(file) as image:
                pixels = preprocess(image.convert('RGB'))[None]
            rows.append(F.normalize(model.encode_image(pixels), dim=-1)[0])
    return torch.stack(rows)


def text_features(loaded: LoadedModel, texts: list[str]) -> Tensor:
    """``normalize(model.encode_text(tokenizer(texts)))``."""
    model, _, tokenizer = loaded
    with torch.no_grad():
        return F.normalize(model.encode_text(tokenizer(texts)), dim=-1)


def itra_classifier(loaded: LoadedModel, classes: list[str], templates: list[str]) -> Tensor:
    """ITRA's ``zero_shot.py``: per class, the mean of the raw prompt embeddings, normalised."""
    model, _, tokenizer = loaded
    with torch.no_grad():
        columns = [
            F.normalize(
                model.encode_text(tokenizer([t.format(c) for t in templates])).mean(0), dim=-1
            )
            for c in classes
        ]
    return torch.stack(columns, dim=1)


def zero_shot_probabilities(
    loaded: LoadedModel,
    files: list[Path],
    classes: list[str],
    templates: list[str],
    recipe: str = 'itra',
) -> Tensor:
    """``softmax(100 * image @ W)`` with ITRA's classifier or open_clip's own
    ``build_zero_shot_classifier`` (``recipe='open_clip'``)."""
    model, _, tokenizer = loaded
    if recipe == 'itra':
        weights = itra_classifier(loaded, classes, templates)
    else:
        with torch.no_grad():
            weights = open_clip.zero_shot_classifier.build_zero_shot_classifier(
                model, tokenizer, classes, templates, num_classes_per_batch=2, device='cpu'
            )
    return (100.0 * image_features(loaded, files) @ weights).softmax(dim=-1)
