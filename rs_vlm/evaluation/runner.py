"""Offline evaluation suite: run every protocol on whatever datasets are under a data root.

Layout under ``data_root`` (each folder as the matching :mod:`rs_vlm.datasets` class expects)::

    rsitmd/  rsicd/  ucm/                   retrieval (test split)
    aid/  eurosat/  mlrsnet/  optimal-31/  patternnet/  resisc45/  rs2800/  rsc11/
    rsi-cb128/  rsi-cb256/  whu-earth/  whu-rs19/
                                            zero-shot (test), k-NN / linear / few-shot
                                            (trainval -> test)
    remotecount/remotecount.csv             counting

A missing folder is a reported skip; a dataset that fails to load or evaluate (wrong class
folders, unreadable files) is a reported error; the rest of the suite still runs. A checkpoint
that does not fit the architecture is reported as an error and nothing else runs.

The runner calls the Lightning-free core directly (:class:`~rs_vlm.evaluation.Encoder` with
the model's own open_clip ``preprocess``, then the protocol functions), the same code the
training callbacks run, so offline and in-training numbers agree.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchmetrics.functional.classification import multiclass_confusion_matrix

from rs_vlm.evaluation.counting import dataset_captions, score_counting
from rs_vlm.evaluation.encoding import Encoder
from rs_vlm.evaluation.paper_numbers import (
    PAPER_FEW_SHOT,
    PAPER_KNN,
    PAPER_LINEAR,
    PAPER_RETRIEVAL,
    PAPER_ZERO_SHOT,
    paper_backbone,
)
from rs_vlm.evaluation.plots import (
    confusion_matrix_figure,
    counting_accuracy_figure,
    retrieval_examples_figure,
    save_figure,
)
from rs_vlm.evaluation.probes import ProbeSettings, run_probes
from rs_vlm.evaluation.report import SUITES, compare, write_report
from rs_vlm.evaluation.zero_shot import build_zero_shot_classifier, zero_shot_accuracy
from rs_vlm.metrics.functional.retrieval import retrieval_hit_rates

__all__ = ['EvaluationOptions', 'run_evaluation']

logger = logging.getLogger('rs_vlm.evaluation')

#: Retrieval benchmark name -> (folder, rs_vlm.datasets class name).
RETRIEVAL_FOLDERS = {'RSITMD': ('rsitmd', 'RSITMD'), 'RSICD': ('rsicd', 'RSICD'),
                     'UCM': ('ucm', 'UCMCaptions')}  # fmt: skip
COUNT_FOLDER = 'remotecount'
#: The recipe's spellings of the same folders (``rs-vlm prepare`` / training data root).
RECIPE_FOLDERS = {'rsitmd': 'RSITMD', 'rsicd': 'RSICD', 'ucm': 'UCM-Captions',
                  'remotecount': 'RemoteCount'}  # fmt: skip


def _benchmark_folder(data_root: Path, folder: str, recipe_name: str | None = None) -> Path:
    """The benchmark's folder: ours (lower case) or the training data root's spelling.

    One data root then serves ``rs-vlm prepare``, training and ``rs-vlm evaluate``. When
    neither exists, ours is returned (the skip message names it and the alternative).
    """
    for name in (folder, recipe_name or RECIPE_FOLDERS.get(folder)):
        if name is not None and (data_root / name).is_dir():
            return data_root / name
    return data_root / folder


def _not_found(root: Path, recipe_name: str | None = None) -> str:
    alternative = recipe_name or RECIPE_FOLDERS.get(root.name)
    if alternative is None or alternative == root.name:
        return f'folder {root} not found'
    return f'folder {root} (or {root.parent / alternative}) not found'


PROBE_SUITES = ('knn', 'linear', 'few-shot')


@dataclass
class EvaluationOptions(ProbeSettings):
    """Settings of :func:`run_evaluation` (defaults: the paper's protocols).

    The probe settings (``knn_k``, ``knn_temperature``, ``linear_epochs``, ``linear_search``,
    ``few_shot_shots``, ``few_shot_seeds``) are those of
    :class:`~rs_vlm.evaluation.probes.ProbeSettings`.

    Attributes:
        device: Torch device for the model.
        batch_size: Images / captions per forward.
        num_workers: DataLoader workers.
        count_styles: RemoteCount caption styles (``word``, ``digit``).
        examples: Retrieval example images per dataset in the plot.
        tensorboard: Also log scalars and figures to ``<output>/tensorboard``.
        normalise_prompts: Zero-shot classifier of open_clip (normalise each prompt embedding)
            instead of ITRA's (average the raw embeddings), which the paper used.
        on_error: Scene datasets' policy for folders matching no class (and unreadable
            images): ``'raise'`` makes the dataset an error, ``'skip'`` leaves them out and
            the report notes the missing classes.
    """

    device: str = 'cpu'
    batch_size: int = 64
    num_workers: int = 0
    count_styles: Sequence[str] = ('word', 'digit')
    examples: int = 4
    tensorboard: bool = True
    normalise_prompts: bool = False
    on_error: str = 'raise'


@dataclass
class _Run:
    output: Path
    backbone: str | None
    options: EvaluationOptions
    encoder: Encoder
    results: dict[str, Any]

    def error(self, suite: str, dataset: str, error: BaseException) -> None:
        message = f'{type(error).__name__}: {error}'
        logger.error('%s / %s: %s', suite, dataset, message)
        self.results['errors'].append({'suite': suite, 'dataset': dataset, 'message': message})

    def skip(self, suite: str, dataset: str, reason: str) -> None:
        logger.warning('%s / %s skipped: %s', suite, dataset, reason)
        self.results['skipped'].append({'suite': suite, 'dataset': dataset, 'reason': reason})

    def plot(self, name: str, figure: Any) -> None:
        path = save_figure(figure, self.output / 'plots' / f'{name}.png')
        self.results['plots'].append(str(path.relative_to(self.output)))


def _dataset_class(name: str) -> Any:
    import rs_vlm.datasets as datasets

    return getattr(datasets, name)


def _scene_datasets() -> dict[str, Any]:
    from rs_vlm.datasets import ZERO_SHOT_DATASETS

    return dict(ZERO_SHOT_DATASETS)


def _thumbnail(image: Tensor) -> np.ndarray:
    return torch.as_tensor(image).float().clamp(0, 255).byte().permute(1, 2, 0).cpu().numpy()


def _run_retrieval(run: _Run, data_root: Path) -> None:
    from torchgeo.datasets import DatasetNotFoundError  # with the datasets, not at import

    for name, (folder, class_name) in RETRIEVAL_FOLDERS.items():
        root = _benchmark_folder(data_root, folder)
        if not root.is_dir():
            run.skip('retrieval', name, _not_found(root))
            continue
        try:
            dataset = _dataset_class(class_name)(root, split='test', image_size=None)
        except DatasetNotFoundError as error:
            if root.name == folder:
                run.error('retrieval', name, error)
            else:  # the training data root's folder may hold the train split alone
                run.skip('retrieval', name, f'{root} holds no test split ({error})')
            continue
        except Exception as error:
            run.error('retrieval', name, error)
            continue
        try:
            images = run.encoder.images(dataset).features
            texts = run.encoder.texts(list(dataset.captions))
            recalls = retrieval_hit_rates(images, texts, dataset.caption_to_image)
            ours = {key: float(value) for key, value in recalls.items()}
        except Exception as error:  # one dataset's failure must not stop the suite
            run.error('retrieval', name, error)
            continue
        paper = PAPER_RETRIEVAL.get(run.backbone or '', {}).get(name)
        run.results['retrieval'][name] = compare(ours, paper)
        shown = list(range(min(run.options.examples, len(images))))
        top = (images[shown] @ texts.T).topk(min(3, len(texts)), dim=1).indices.cpu()
        mapping = list(dataset.caption_to_image)
        retrieved = [
            [(dataset.captions[j], mapping[j] == i) for j in top[row].tolist()]
            for row, i in enumerate(shown)
        ]
        thumbs = [_thumbnail(dataset[i]['image']) for i in shown]
        run.plot(
            f'retrieval_examples_{name.lower()}',
            retrieval_examples_figure(thumbs, retrieved, f'{name}: image -> text, top 3'),
        )


def _scene(run: _Run, suite: str, name: str, cls: Any, data_root: Path, split: str) -> Any:
    root = _benchmark_folder(data_root, name.lower(), name)
    if not root.is_dir():
        run.skip(suite, name, _not_found(root, name))
        return None
    try:
        return cls(root, split=split, on_error=run.options.on_error)
    except Exception as error:  # wrong class folders, unreadable files, ...
        run.error(suite, name, error)
        return None


def _run_zero_shot(run: _Run, data_root: Path) -> None:
    for name, cls in _scene_datasets().items():
        dataset = _scene(run, 'zero-shot', name, cls, data_root, 'test')
        if dataset is None:
            continue
        try:
            classifier = build_zero_shot_classifier(
                lambda texts: run.encoder.texts(texts, normalize=False),
                list(dataset.classes),
                list(dataset.templates),
                normalise_prompts=run.options.normalise_prompts,
            )
            images = run.encoder.images(dataset)
            if images.labels is None:
                raise ValueError(f'zero-shot dataset {name!r}: samples have no label')
            result = zero_shot_accuracy(images.features, images.labels, classifier, name=name)
        except Exception as error:
            run.error('zero-shot', name, error)
            continue
        paper = PAPER_ZERO_SHOT.get(run.backbone or '', {}).get(name)
        run.results['zero-shot'][name] = compare(
            result.accuracies, {'top1': paper} if paper else None
        )
        _note_missing_classes(run.results['zero-shot'][name], dataset)
        matrix = multiclass_confusion_matrix(
            result.logits.cpu(), result.labels.cpu(), len(dataset.classes)
        )
        run.plot(
            f'confusion_{name.lower()}',
            confusion_matrix_figure(matrix.numpy(), dataset.classes, f'{name} zero-shot'),
        )


def _note_missing_classes(entry: dict[str, Any], dataset: Any) -> None:
    """Say in a report entry which classes the dataset lacks (left out of its ``classes``)."""
    missing = list(getattr(dataset, 'missing_classes', []))
    if missing:
        total = len(missing) + len(dataset.classes)
        entry.setdefault('notes', []).append(
            f'{len(missing)} of {total} classes missing, not scored: {", ".join(missing)}'
        )
    skipped = list(getattr(dataset, 'unmatched_folders', []))
    if skipped:
        entry.setdefault('notes', []).append(
            f'folders matching no class, skipped: {", ".join(skipped)}'
        )


def _run_probes(run: _Run, data_root: Path, probes: list[str]) -> None:
    backbone = run.backbone or ''
    for name, cls in _scene_datasets().items():
        train = _scene(run, probes[0], name, cls, data_root, 'trainval')
        test = _scene(run, probes[0], name, cls, data_root, 'test') if train else None
        if train is None or test is None:
            continue
        try:
            train_encoded = run.encoder.images(train, normalize=False)
            test_encoded = run.encoder.images(test, normalize=False)
            if train_encoded.labels is None or test_encoded.labels is None:
                raise ValueError(f'feature-probe dataset {name!r}: samples have no label')
            results = run_probes(
                train_encoded.features, train_encoded.labels, test_encoded.features,
                test_encoded.labels, probes, run.options, list(train.classes),
            )  # fmt: skip
        except Exception as error:
            run.error('+'.join(probes), name, error)
            continue
        if results.knn is not None:
            paper = PAPER_KNN.get(backbone, {}).get(name)
            run.results['knn'][name] = compare(
                {'top1': results.knn}, {'top1': paper} if paper else None
            )
            _note_missing_classes(run.results['knn'][name], test)
        if results.linear is not None:
            paper = PAPER_LINEAR.get(backbone, {}).get(name)
            run.results['linear'][name] = compare(
                {'top1': results.linear.accuracy}, {'top1': paper} if paper else None
            )
            _note_missing_classes(run.results['linear'][name], test)
        if results.few_shot:
            table = PAPER_FEW_SHOT.get(backbone, {})
            entry = compare(
                {f'{r.shots}-shot': r.mean for r in results.few_shot},
                {f'{r.shots}-shot': table[r.shots][name]
                 for r in results.few_shot if name in table.get(r.shots, {})},
            )  # fmt: skip
            entry['notes'] = [
                f'{r.shots}-shot not evaluable: {r.not_evaluable}'
                for r in results.few_shot
                if r.not_evaluable
            ]
            _note_missing_classes(entry, test)
            run.results['few-shot'][name] = entry


def _run_count(run: _Run, data_root: Path) -> None:
    root = _benchmark_folder(data_root, COUNT_FOLDER)
    if not root.is_dir():
        run.skip('count', 'RemoteCount', _not_found(root))
        return
    try:
        dataset = _dataset_class('RemoteCount')(root, on_error='skip')
        images = run.encoder.images(dataset)
        if images.labels is None:
            raise ValueError('RemoteCount samples have no label (count)')
        captions = dataset_captions(dataset)
    except Exception as error:
        run.error('count', 'RemoteCount', error)
        return
    skipped_rows = dataset.policy.num_skipped
    curves = {}
    for style in run.options.count_styles:
        try:
            report = score_counting(
                images.features, captions, images.labels.cpu(), run.encoder.texts, style=style
            )
        except Exception as error:
            run.error('count', f'RemoteCount ({style})', error)
            continue
        curves[style] = report.topk
        entry = compare({f'top{k + 1}': v for k, v in enumerate(report.topk)}, None)
        entry['scored'] = report.scored
        entry['skipped'] = [{'index': i, 'reason': r} for i, r in report.skipped]
        entry['notes'] = [f'{report.scored} scored, {len(report.skipped)} skipped by scoring']
        if skipped_rows:
            entry['notes'].append(f'{skipped_rows} annotation rows skipped when reading')
        run.results['count'][f'RemoteCount ({style})'] = entry
        run.plot(
            f'count_confusion_{style}',
            confusion_matrix_figure(
                report.confusion, [str(k) for k in range(1, 11)], f'RemoteCount ({style})'
            ),
        )
    if curves:
        run.plot('count_accuracy', counting_accuracy_figure(curves, 'RemoteCount top-k'))


def _add_averages(results: dict[str, Any]) -> None:
    """Mean over the evaluated scene datasets, ours and the paper's over the same ones."""
    for suite in ('zero-shot', 'knn', 'linear'):
        entries = results[suite]
        if len(entries) < 2:
            continue
        ours = float(np.mean([e['ours']['top1'] for e in entries.values()]))
        papers = [e['paper'].get('top1') for e in entries.values()]
        paper = {'top1': float(np.mean(papers))} if all(p is not None for p in papers) else None
        entries[f'average ({len(entries)} datasets)'] = compare({'top1': ours}, paper)


def _log_tensorboard(run: _Run) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run.output / 'tensorboard'))
    try:
        for suite in SUITES:
            for dataset, entry in run.results[suite].items():
                for metric, value in entry['ours'].items():
                    if value is not None:  # a not-evaluable setting has no number
                        writer.add_scalar(f'{suite}/{dataset}/{metric}', value, 0)
        for name in run.results['plots']:
            # the saved PNG, not add_figure: rendering a figure twice doubles the plot time
            with Image.open(run.output / name) as image:
                pixels = np.asarray(image.convert('RGB'))
            writer.add_image(Path(name).stem, pixels, 0, dataformats='HWC')
    finally:
        writer.close()


def run_evaluation(
    model_name: str,
    checkpoint: str | Path | None,
    data_root: str | Path,
    output: str | Path,
    suites: Sequence[str] = SUITES,
    options: EvaluationOptions | None = None,
    force_quick_gelu: bool = False,
) -> dict[str, Any]:
    """Run the selected suites and write the report (JSON, Markdown, PNG, TensorBoard).

    Args:
        model_name: open_clip model name (``RN50``, ``ViT-B-32-quickgelu``, ...).
        checkpoint: Weights in any format :func:`rs_vlm.models.load_model` reads; random
            weights when None.
        data_root: Folder holding the dataset folders (see the module docstring).
        output: Report folder.
        suites: Any of ``retrieval``, ``zero-shot``, ``knn``, ``linear``, ``few-shot``,
            ``count``.
        options: Protocol settings.
        force_quick_gelu: Build the model with QuickGELU.

    Returns:
        The results (also in ``<output>/report.json``); ``results['errors']`` lists failures.

    Raises:
        ValueError: On an unknown suite name.
    """
    unknown = [suite for suite in suites if suite not in SUITES]
    if unknown:
        raise ValueError(f'unknown suite(s) {unknown}; choose from {list(SUITES)}')
    options = options or EvaluationOptions()
    data_root, output = Path(data_root), Path(output)
    results: dict[str, Any] = {
        'model': model_name,
        'checkpoint': str(checkpoint) if checkpoint else None,
        'data_root': str(data_root),
        'paper_backbone': paper_backbone(model_name),
        'suites': list(suites),
        'created': datetime.now(UTC).isoformat(timespec='seconds'),
        'errors': [],
        'skipped': [],
        'plots': [],
        **{suite: {} for suite in SUITES},
    }
    from rs_vlm.models import load_model

    try:
        model, preprocess, tokenizer = load_model(
            model_name, checkpoint, options.device, force_quick_gelu=force_quick_gelu
        )
    except Exception as error:  # wrong architecture, unreadable or unsafe file
        results['errors'].append(
            {'suite': 'model', 'dataset': '-', 'message': f'{type(error).__name__}: {error}'}
        )
        write_report(results, output)
        return results
    encoder = Encoder(
        model,
        preprocess,
        tokenizer,
        batch_size=options.batch_size,
        text_batch_size=options.batch_size,
        num_workers=options.num_workers,
    )
    run = _Run(output, results['paper_backbone'], options, encoder, results)
    with torch.no_grad():
        if 'retrieval' in suites:
            _run_retrieval(run, data_root)
        if 'zero-shot' in suites:
            _run_zero_shot(run, data_root)
        probes = [suite for suite in PROBE_SUITES if suite in suites]
        if probes:
            _run_probes(run, data_root, probes)
        if 'count' in suites:
            _run_count(run, data_root)
    _add_averages(results)
    if options.tensorboard:
        _log_tensorboard(run)
    write_report(results, output)
    return results
