"""One sample as a matplotlib figure: the image with its caption(s), label or count.

The datasets' ``plot`` methods (torchgeo's convention, so ``NonGeoDataModule.plot`` works)
decide what text a sample carries; this module draws it.
"""

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ['image_for_display', 'plot_image_with_text', 'prediction_line']

#: Characters per line of wrapped titles at the figure width.
TITLE_WIDTH = 56
#: Width (and height of the image area) of the figure, in inches.
IMAGE_INCHES = 4.0
#: Height of one 8 pt title line and of the suptitle, in inches.
LINE_HEIGHT = 0.16
SUPTITLE_HEIGHT = 0.3


def image_for_display(image: Tensor) -> Tensor:
    """A ``[3, H, W]`` image (float 0..255 or uint8) as ``[H, W, 3]`` uint8 for ``imshow``.

    Args:
        image: The sample's image.

    Returns:
        The image, channels last, in 0..255.

    Raises:
        ValueError: If the image is not ``[C, H, W]`` with 1 or 3 channels.
    """
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(
            f'expected an image [C, H, W] with 1 or 3 channels, got {list(image.shape)}'
        )
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return image.detach().cpu().float().clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0)


def prediction_line(sample: dict[str, Any], classes: Sequence[str] | None = None) -> list[str]:
    """``['prediction: ...']`` when the sample has a ``prediction`` (class index -> name).

    Args:
        sample: A sample, possibly with ``prediction``.
        classes: Class names for an integer prediction.

    Returns:
        Zero or one line.
    """
    if 'prediction' not in sample:
        return []
    prediction = sample['prediction']
    if isinstance(prediction, Tensor) and prediction.numel() == 1:
        prediction = prediction.item()
    if classes is not None and isinstance(prediction, int) and 0 <= prediction < len(classes):
        prediction = classes[prediction]
    return [f'prediction: {prediction}']


def plot_image_with_text(
    sample: dict[str, Any],
    lines: Sequence[str],
    show_titles: bool = True,
    suptitle: str | None = None,
) -> 'Figure':
    """Draw ``sample['image']`` with ``lines`` of text above it.

    Args:
        sample: A sample with ``image`` ``[3, H, W]``.
        lines: The text (captions, label, count, prediction); long lines are wrapped.
        show_titles: Show the text.
        suptitle: Figure title.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    wrapped = [textwrap.fill(str(line), TITLE_WIDTH) for line in lines] if show_titles else []
    text_rows = sum(text.count('\n') + 1 for text in wrapped)
    # Room above the image, in inches: the text block (8 pt lines) and the suptitle.
    above = LINE_HEIGHT * text_rows + (SUPTITLE_HEIGHT if suptitle is not None else 0) + 0.1
    height = IMAGE_INCHES + above + 0.1
    figure, axis = plt.subplots(figsize=(IMAGE_INCHES, height))
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.1 / height, top=1 - above / height)
    axis.imshow(image_for_display(sample['image']).numpy())
    axis.axis('off')
    if wrapped:
        axis.set_title('\n'.join(wrapped), fontsize=8, loc='left')
    if suptitle is not None:
        figure.suptitle(suptitle, y=1 - 0.05 / height, va='top')
    return figure
