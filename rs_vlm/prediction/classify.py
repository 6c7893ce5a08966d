"""Zero-shot classification of image files against class names (template-ensembled prompts).

Each class embedding is built by :func:`rs_vlm.evaluation.build_zero_shot_classifier`, the
same code as the zero-shot benchmark: by default ITRA's recipe (the mean of the raw embeddings of
its prompts, one per template, L2-normalised), optionally open_clip's (each prompt embedding
normalised before the mean). Probabilities are ``softmax(100 * image @ classes.T)`` over all
classes, the scale of open_clip's and RemoteCLIP's examples and of our callbacks.
"""

import csv
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
from torch import Tensor

from rs_vlm.atomic import atomic_write
from rs_vlm.evaluation.encoding import Encoder
from rs_vlm.evaluation.zero_shot import LOGIT_SCALE, build_zero_shot_classifier
from rs_vlm.prediction.encoding import OnError, encode_image_files, find_images
from rs_vlm.prediction.inputs import check_class_names, dataset_classes, read_templates
from rs_vlm.prediction.model import LoadedModel, load_for_prediction
from rs_vlm.prompt_templates import check_templates

__all__ = [
    'ClassificationResult',
    'ImagePrediction',
    'classify_images',
    'display_names',
    'write_predictions',
]


@dataclass
class ImagePrediction:
    """The top-k classes of one image.

    Attributes:
        path: The image, relative to the images folder when one folder was given.
        classes: Class names, most probable first.
        probabilities: Their probabilities (over all classes).
    """

    path: str
    classes: list[str]
    probabilities: list[float]


@dataclass
class ClassificationResult:
    """What :func:`classify_images` returns.

    Attributes:
        predictions: One per readable image, in file order.
        probabilities: ``[len(predictions), len(classes)]`` probabilities (rows sum to 1).
        classes: The class names (column ``i`` of ``probabilities``).
        templates: The prompt templates ensembled per class.
        skipped: ``(path, reason)`` of images that could not be read (``on_error='skip'``).
        model_name: The model.
        checkpoint: Its weights file, or None for random weights.
    """

    predictions: list[ImagePrediction]
    probabilities: Tensor
    classes: list[str]
    templates: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    model_name: str = ''
    checkpoint: str | None = None

    def summary(self) -> str:
        """A few lines: counts, skipped files and how often each class came first."""
        counts = Counter(prediction.classes[0] for prediction in self.predictions)
        lines = [
            f'classified {len(self.predictions)} image(s) into {len(self.classes)} classes '
            f'({len(self.templates)} templates each); skipped {len(self.skipped)}'
        ]
        if counts:
            top = ', '.join(f'{name}: {count}' for name, count in counts.most_common(10))
            more = f' (+{len(counts) - 10} more)' if len(counts) > 10 else ''
            lines.append(f'top-1 classes: {top}{more}')
        lines.extend(f'skipped {path}: {reason}' for path, reason in self.skipped)
        return '\n'.join(lines)


def display_names(files: Sequence[Path], images: str | Path | Iterable[str | Path]) -> list[str]:
    """Names to report: relative to ``images`` when it is one folder, else as found.

    Args:
        files: Files found under ``images``.
        images: What the user gave.

    Returns:
        One name per file (POSIX separators).
    """
    if isinstance(images, str | Path) and Path(images).is_dir():
        root = Path(images)
        return [file.relative_to(root).as_posix() for file in files]
    return [file.as_posix() for file in files]


def classify_images(
    images: str | Path | Iterable[str | Path],
    classes: Sequence[str] | None = None,
    *,
    dataset: str | None = None,
    templates: Sequence[str] | str | Path | None = None,
    model_name: str = 'ViT-B-32',
    checkpoint: str | Path | None = None,
    top_k: int = 5,
    batch_size: int = 32,
    num_workers: int = 0,
    device: str | torch.device = 'auto',
    on_error: OnError = 'raise',
    progress: bool = False,
    force_quick_gelu: bool = False,
    loaded: LoadedModel | None = None,
    normalise_prompts: bool = False,
) -> ClassificationResult:
    """Zero-shot classify image files with template-ensembled class embeddings.

    Args:
        images: A folder (searched recursively for image files by suffix, see
            :data:`rs_vlm.image_files.IMAGE_SUFFIXES`), image files,
            or both.
        classes: Class names; or give ``dataset``.
        dataset: One of our scene datasets (``AID``, ``RESISC45``, ``SyntheticAerial``...):
            its class names and, unless ``templates`` is given, its templates.
        templates: Templates with a ``{}`` slot, a template file, or None / ``'default'``
            (the dataset's, else RemoteCLIP's default ensemble).
        model_name: open_clip model name (``ViT-B-32-quickgelu`` for RemoteCLIP weights).
        checkpoint: Weights file in any layout :func:`rs_vlm.models.load_model` reads.
        top_k: Classes kept per image (capped at the number of classes).
        batch_size: Images per forward.
        num_workers: Image-decoding worker processes.
        device: ``'auto'`` (CUDA when available), ``'cpu'``, ``'cuda'``...
        on_error: Unreadable image: ``'raise'`` or ``'skip'`` (counted in ``skipped``).
        progress: Show a progress bar.
        force_quick_gelu: Build the model with QuickGELU.
        loaded: A ``(model, preprocess, tokenizer)`` from :func:`rs_vlm.models.load_model`
            to reuse instead of loading ``model_name`` / ``checkpoint``.
        normalise_prompts: open_clip's classifier (normalise each prompt embedding before
            averaging) instead of ITRA's (average the raw embeddings), which the paper used.

    Returns:
        Per-image top-k classes and probabilities, the full probability matrix and the
        skipped files.

    Raises:
        ValueError: Both or neither of ``classes`` and ``dataset``, an unknown dataset, or
            ``top_k < 1``.
        InputError: Bad class names or template file, no images, an unreadable image
            (``on_error='raise'``).
        CheckpointError: A checkpoint that is missing or does not fit the model.
    """
    if (classes is None) == (dataset is None):
        raise ValueError('give exactly one of classes and dataset')
    if top_k < 1:
        raise ValueError(f'top_k must be >= 1, got {top_k}')
    dataset_templates = None
    if dataset is not None:
        classes, dataset_templates = dataset_classes(dataset)
    class_names = check_class_names(list(classes or []))
    if isinstance(templates, str | Path):
        prompts = read_templates(templates)
        if str(templates) == 'default' and dataset_templates is not None:
            prompts = dataset_templates
    elif templates is None:
        prompts = dataset_templates or read_templates(None)
    else:
        prompts = list(templates)
    prompts = check_templates(prompts)  # before any model is loaded
    files = find_images(images)
    model, preprocess, tokenizer = load_for_prediction(
        model_name, checkpoint, device, force_quick_gelu=force_quick_gelu, loaded=loaded
    )
    texts = Encoder(model, preprocess, tokenizer).texts
    classifier = build_zero_shot_classifier(
        partial(texts, normalize=False),
        class_names,
        prompts,
        normalise_prompts=normalise_prompts,
    )
    encoded = encode_image_files(
        model,
        preprocess,
        files,
        batch_size=batch_size,
        num_workers=num_workers,
        on_error=on_error,
        progress=progress,
    )
    features = encoded.features.to(classifier.device)
    probabilities = (LOGIT_SCALE * features @ classifier.T).softmax(dim=-1).cpu()
    values, indices = probabilities.topk(min(top_k, len(class_names)), dim=-1)
    names = display_names(encoded.files, images)
    predictions = [
        ImagePrediction(
            name, [class_names[i] for i in row_indices.tolist()], [float(v) for v in row_values]
        )
        for name, row_values, row_indices in zip(names, values, indices, strict=True)
    ]
    skipped_names = display_names([path for path, _ in encoded.skipped], images)
    return ClassificationResult(
        predictions,
        probabilities,
        class_names,
        list(prompts),
        [(name, reason) for name, (_, reason) in zip(skipped_names, encoded.skipped, strict=True)],
        model_name,
        str(checkpoint) if checkpoint is not None else None,
    )


def write_predictions(result: ClassificationResult, output: str | Path) -> Path:
    """Write the predictions atomically as CSV (``.csv``) or JSON (``.json``).

    CSV: a header ``path,class_1,probability_1,...,class_k,probability_k`` and one row per
    image. JSON: ``{'model', 'checkpoint', 'classes', 'templates', 'predictions': [{'path',
    'top_k': [{'class', 'probability'}]}], 'skipped': [{'path', 'reason'}]}``.

    Args:
        result: What :func:`classify_images` returned.
        output: The file; its suffix picks the format.

    Returns:
        The path written.

    Raises:
        ValueError: Any other suffix.
    """
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix == '.csv':
        k = max((len(p.classes) for p in result.predictions), default=0)
        header = ['path'] + [f'{kind}_{rank}' for rank in range(1, k + 1)
                             for kind in ('class', 'probability')]  # fmt: skip
        with atomic_write(output, 'w', newline='') as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for prediction in result.predictions:
                row = [prediction.path]
                for name, probability in zip(
                    prediction.classes, prediction.probabilities, strict=True
                ):
                    row += [name, f'{probability:.6f}']
                writer.writerow(row)
    elif suffix == '.json':
        document = {
            'model': result.model_name,
            'checkpoint': result.checkpoint,
            'classes': result.classes,
            'templates': result.templates,
            'predictions': [
                {
                    'path': prediction.path,
                    'top_k': [
                        {'class': name, 'probability': probability}
                        for name, probability in zip(
                            prediction.classes, prediction.probabilities, strict=True
                        )
                    ],
                }
                for prediction in result.predictions
            ],
            'skipped': [{'path': path, 'reason': reason} for path, reason in result.skipped],
        }
        with atomic_write(output, 'w') as handle:
            json.dump(document, handle, indent=2)
            handle.write('\n')
    else:
        raise ValueError(f'{output}: unknown output format; expected a .csv or .json file name')
    return output
