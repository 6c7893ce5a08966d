"""PNG figures of an evaluation: confusion matrices, counting accuracy, retrieval examples.

Figures are built with matplotlib's object API and the Agg canvas (no pyplot state, no
display needed) and saved atomically.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rs_vlm.atomic import atomic_path

__all__ = [
    'confusion_matrix_figure',
    'counting_accuracy_figure',
    'retrieval_examples_figure',
    'save_figure',
]


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100, layout='constrained')
    FigureCanvasAgg(figure)
    return figure


def confusion_matrix_figure(
    matrix: Sequence[Sequence[float]] | np.ndarray, labels: Sequence[str], title: str
) -> Figure:
    """A row-normalised confusion matrix as a heat map.

    Args:
        matrix: ``[C, C]`` counts or rates (rows: true class, columns: predicted).
        labels: Class names (tick labels).
        title: Figure title.

    Returns:
        The figure.
    """
    values = np.asarray(matrix, dtype=float)
    rows = values.sum(axis=1, keepdims=True)
    rates = np.divide(values, rows, out=np.zeros_like(values), where=rows > 0)
    size = 3 + 0.25 * len(labels)
    figure = _figure(size + 1, size)
    axes = figure.add_subplot()
    image = axes.imshow(rates, vmin=0, vmax=1, cmap='viridis')
    axes.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    axes.set_yticks(range(len(labels)), labels, fontsize=7)
    axes.set_xlabel('predicted')
    axes.set_ylabel('true')
    axes.set_title(title)
    figure.colorbar(image, ax=axes, shrink=0.8)
    return figure


def counting_accuracy_figure(curves: dict[str, Sequence[float]], title: str) -> Figure:
    """Top-1..top-10 counting accuracy, one line per caption style.

    Args:
        curves: Style name (e.g. ``'word'``, ``'digit'``) -> accuracies in percent.
        title: Figure title.

    Returns:
        The figure.
    """
    figure = _figure(5, 3.5)
    axes = figure.add_subplot()
    for name, values in curves.items():
        axes.plot(range(1, len(values) + 1), values, marker='o', label=name)
    axes.set_xlabel('k')
    axes.set_ylabel('top-k accuracy (%)')
    axes.set_ylim(0, 100)
    axes.grid(alpha=0.3)
    axes.legend()
    axes.set_title(title)
    return figure


def retrieval_examples_figure(
    images: Sequence[np.ndarray],
    retrieved: Sequence[Sequence[tuple[str, bool]]],
    title: str,
) -> Figure:
    """Query images with their top retrieved captions (correct ones marked).

    Args:
        images: HWC uint8 arrays.
        retrieved: Per image, ``(caption, is_correct)`` in rank order.
        title: Figure title.

    Returns:
        The figure.
    """
    figure = _figure(10, 2.2 * len(images))
    for row, (image, captions) in enumerate(zip(images, retrieved, strict=True)):
        axes = figure.add_subplot(len(images), 2, 2 * row + 1)
        axes.imshow(image)
        axes.axis('off')
        text_axes = figure.add_subplot(len(images), 2, 2 * row + 2)
        text_axes.axis('off')
        for rank, (caption, correct) in enumerate(captions):
            mark = 'OK ' if correct else 'no '
            text_axes.text(
                0,
                1 - 0.2 * rank,
                f'{rank + 1}. [{mark}] {caption[:70]}',
                va='top',
                fontsize=8,
                color='green' if correct else 'red',
            )
    figure.suptitle(title)
    return figure


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` as PNG, atomically.

    Args:
        figure: The figure.
        path: Target file.

    Returns:
        The path.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format='png')
    return path
