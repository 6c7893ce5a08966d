"""SyntheticAerial: a procedurally rendered aerial world that needs no download."""

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from torch import Tensor
from torchgeo.datasets import NonGeoDataset

from rs_vlm.conversion import B2CConfig, boxes_to_captions, mask_to_boxes, pluralise
from rs_vlm.synthetic.render import MAX_COUNT, SCENE_TYPES, RenderedScene, render_scene
from rs_vlm.synthetic.shapes import OBJECT_CLASSES

__all__ = ['SyntheticAerial']

Task = Literal['caption', 'scene', 'retrieval', 'count']
CaptionSource = Literal['boxes', 'mask', 'mixed']
Tokenizer = Callable[[list[str]], Tensor]

# 'farmland' reads best without an article ("an aerial image of farmland").
_ARTICLES = {'farmland': ''}

#: Scene sentences that open every caption; caption k uses template k.
_SCENE_SENTENCES = (
    'an aerial image of {}',
    'a satellite view of {}',
    'a remote sensing picture of {}',
    'an overhead image of {}',
    'a top-down view of {}',
)


def _with_article(name: str) -> str:
    """``'an airport'``, ``'a harbor'``, ``'farmland'``."""
    article = _ARTICLES.get(name, 'an' if name[0] in 'aeiou' else 'a')
    return f'{article} {name}'.strip()


class SyntheticAerial(NonGeoDataset):
    """Procedurally rendered top-down aerial scenes with boxes, masks, counts and captions.

    A small stand-in for remote-sensing corpora that runs the whole pipeline with no download.
    Seven scene types, each with a strong colour and texture cue and its own objects:

    ========================  ==============  ===============================
    scene (zero-shot class)   counted object  other objects (0..3)
    ========================  ==============  ===============================
    farmland                  building        tree, vehicle
    forest                    tree            --
    lake                      ship            --
    residential area          building        vehicle, tree
    airport                   airplane        vehicle
    harbor                    ship            storage tank, vehicle
    industrial area           storage tank    building, vehicle
    ========================  ==============  ===============================

    Image ``i`` of a split is scene type ``i % 7`` with ``1 + (i // 7) % 10`` counted objects,
    so scene types and counts are balanced; everything else (textures, positions, sizes,
    colours, rotation/flip of the whole scene) is drawn from ``(seed, split, i)``, which makes
    each image a pure function of those three. Objects never touch (each sits inside its own
    cell of a 4 x 4 grid), so Mask-to-Box on the semantic mask recovers every object's box
    and every count is exact.

    Captions come from the package's conversion code, as for real corpora: the boxes (the
    rendered ones, or those that :func:`~rs_vlm.conversion.mask_to_boxes` recovers from the
    semantic mask, see ``caption_source``) go through
    :func:`~rs_vlm.conversion.boxes_to_captions` for five captions, each opened by a sentence
    naming the scene type and the count of its counted class (:meth:`scene_sentence`), e.g.
    ``'An aerial image of an airport with 3 airplanes . 3 airplanes in the middle of the picture
    .'``.

    Tasks (sample dicts; ``image`` is float32 [3, H, W] in 0..255):

    * ``'caption'``: ``{'image', 'caption'[, 'text']}``, one of the image's five captions, drawn
      from ``(seed, epoch, index)``; keys may be ``index`` or ``(index, epoch)`` (as
      :class:`~rs_vlm.samplers.epoch_random.EpochRandomSampler` yields). ``text`` holds the tokens
      when a ``tokenizer`` is given. :meth:`captions_of` gives all five.
    * ``'retrieval'``: ``{'image', 'index'}``; ``captions`` (five per image, in image order)
      and ``caption_to_image``.
    * ``'scene'``: ``{'image', 'label'}``; ``classes`` (scene names) and ``templates``.
    * ``'count'``: RemoteCount format ``{'image', 'caption', 'label', 'class_name'}``:
      ``label`` is the number (1..10) of ``class_name`` objects, and the caption states it in
      digits (``'An aerial image of an industrial area with 4 storage tanks .'``).

    :meth:`render` gives the full annotations of an image (boxes, labels, instance and semantic
    masks, counts).

    Args:
        root: Unused (nothing is read or written); accepted for torchgeo's signature.
        split: ``'train'``, ``'val'`` or ``'test'`` (different images for the same seed).
        task: ``'caption'``, ``'scene'``, ``'retrieval'`` or ``'count'``.
        image_size: Side of the square images in pixels (at least 32).
        length: Number of images (default: ``default_lengths[split]``).
        seed: Seed of the whole world.
        transforms: Applied to each sample last.
        tokenizer: open_clip tokenizer (``list[str] -> LongTensor [N, L]``) for ``text``.
        caption_source: Boxes that captions are written from: ``'boxes'`` (rendered),
            ``'mask'`` (Mask-to-Box on the semantic mask) or ``'mixed'`` (rendered boxes for
            even images, Mask-to-Box for odd ones; both give the same boxes here).
        b2c_config: Box-to-Caption rules (default: the package default).
        cache: Keep rendered images and captions in memory.

    Raises:
        ValueError: Unknown split, task or caption source, or a length below 1.
    """

    splits: ClassVar[tuple[str, ...]] = ('train', 'val', 'test')
    tasks: ClassVar[tuple[str, ...]] = ('caption', 'scene', 'retrieval', 'count')
    default_lengths: ClassVar[dict[str, int]] = {'train': 7000, 'val': 700, 'test': 700}

    #: Zero-shot class names, label ``i`` -> ``classes[i]``.
    classes: ClassVar[list[str]] = [scene.name for scene in SCENE_TYPES]

    #: Zero-shot prompt templates (``{}`` = class name).
    templates: ClassVar[list[str]] = [
        'a satellite image of a {}.',
        'an aerial photo of a {}.',
        'an overhead view of a {}.',
        'a centered satellite photo of a {}.',
    ]

    def __init__(
        self,
        root: str | None = None,
        split: str = 'train',
        task: Task = 'caption',
        image_size: int = 64,
        length: int | None = None,
        seed: int = 0,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        tokenizer: Tokenizer | None = None,
        caption_source: CaptionSource = 'mixed',
        b2c_config: B2CConfig | None = None,
        cache: bool = True,
    ) -> None:
        if split not in self.splits:
            raise ValueError(f'split must be one of {self.splits}, got {split!r}')
        if task not in self.tasks:
            raise ValueError(f'task must be one of {self.tasks}, got {task!r}')
        if caption_source not in ('boxes', 'mask', 'mixed'):
            raise ValueError(
                f"caption_source must be 'boxes', 'mask' or 'mixed', got {caption_source!r}"
            )
        if image_size < 32:
            raise ValueError(f'image_size must be at least 32 pixels, got {image_size}')
        length = self.default_lengths[split] if length is None else length
        if length < 1:
            raise ValueError(f'length must be at least 1, got {length}')
        self.root = root
        self.split = split
        self.task = task
        self.image_size = image_size
        self.length = length
        self.seed = seed
        self.transforms = transforms
        self.tokenizer = tokenizer
        self.caption_source = caption_source
        self.b2c_config = b2c_config
        self.cache = cache
        self.epoch = 0
        self._scenes: dict[int, RenderedScene] = {}
        self._captions: dict[int, list[str]] = {}
        self._tokens: dict[int, Tensor] = {}

    def __len__(self) -> int:
        """Return the number of images."""
        return self.length

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch used for plain integer keys (caption choice of the caption task).

        Args:
            epoch: The epoch number.
        """
        self.epoch = epoch

    def scene_of(self, index: int) -> int:
        """Scene type (zero-shot label) of image ``index``: ``index % 7``."""
        return index % len(SCENE_TYPES)

    def count_of(self, index: int) -> int:
        """Number of counted objects in image ``index``: ``1 + (index // 7) % 10``."""
        return 1 + (index // len(SCENE_TYPES)) % MAX_COUNT

    def render(self, index: int) -> RenderedScene:
        """Render image ``index`` with its annotations (cached when ``cache`` is set).

        Args:
            index: Image index.

        Returns:
            The rendered scene: image, instance/semantic masks, boxes, labels, counts.

        Raises:
            IndexError: If ``index`` is out of range.
        """
        index = self._check_index(index)
        scene = self._scenes.get(index)
        if scene is None:
            rng = np.random.default_rng([self.seed, self.splits.index(self.split), index])
            scene = render_scene(rng, self.scene_of(index), self.count_of(index), self.image_size)
            if self.cache:
                self._scenes[index] = scene
        return scene

    def captions_of(self, index: int) -> list[str]:
        """The five captions of image ``index``.

        Args:
            index: Image index.

        Returns:
            Five captions: scene sentence k followed by Box-to-Caption caption k.
        """
        index = self._check_index(index)
        captions = self._captions.get(index)
        if captions is None:
            scene = self.render(index)
            from_mask = self.caption_source == 'mask' or (
                self.caption_source == 'mixed' and index % 2 == 1
            )
            if from_mask:
                boxes, labels = mask_to_boxes(
                    scene.semantic_mask, class_names=('ground', *OBJECT_CLASSES), ignore_index=0
                )
            else:
                boxes, labels = scene.boxes, scene.labels
            size = self.image_size
            objects = boxes_to_captions(
                boxes,
                labels,
                size,
                size,
                seed=self.seed,
                config=self.b2c_config,
                key=f'{self.split}/{index}',
            )
            captions = [
                f'{self.scene_sentence(index, template)} {caption}'
                for template, caption in enumerate(objects)
            ]
            if self.cache:
                self._captions[index] = captions
        return captions

    def scene_sentence(self, index: int, template: int = 0) -> str:
        """The sentence that opens image ``index``'s captions: scene type and counted objects.

        Args:
            index: Image index.
            template: Which of the five sentence templates (caption ``template`` uses it).

        Returns:
            E.g. ``'An aerial image of an airport with 4 airplanes .'``.
        """
        scene = self.render(index)
        kind = scene.scene_type
        count = scene.primary_count
        noun = kind.primary if count == 1 else pluralise(kind.primary)
        place = _SCENE_SENTENCES[template].format(_with_article(kind.name))
        return f'{place[:1].upper()}{place[1:]} with {count} {noun} .'

    def tokens_of(self, index: int) -> Tensor:
        """The tokenised five captions of image ``index`` (cached when ``cache`` is set).

        Args:
            index: Image index.

        Returns:
            ``[5, L]`` token ids from ``tokenizer``.

        Raises:
            ValueError: If the dataset has no tokenizer.
        """
        if self.tokenizer is None:
            raise ValueError('SyntheticAerial was made without a tokenizer')
        index = self._check_index(index)
        tokens = self._tokens.get(index)
        if tokens is None:
            tokens = self.tokenizer(self.captions_of(index))
            if self.cache:
                self._tokens[index] = tokens
        return tokens

    def count_caption(self, index: int) -> str:
        """The RemoteCount caption of image ``index``: its counted objects, in digits.

        The caption is the image's first scene sentence, which states the count of the
        scene's counted class (the other objects are not counted).

        Args:
            index: Image index.

        Returns:
            E.g. ``'An aerial image of an industrial area with 4 storage tanks .'``.
        """
        return self.scene_sentence(index, 0)

    @cached_property
    def captions(self) -> list[str]:
        """All captions, five per image in image order (renders every image on first use)."""
        return [caption for index in range(self.length) for caption in self.captions_of(index)]

    @property
    def caption_to_image(self) -> list[int]:
        """Index of the image of each entry of :attr:`captions`."""
        return [index for index in range(self.length) for _ in range(5)]

    def caption_index(self, index: int, epoch: int) -> int:
        """Which of image ``index``'s five captions the caption task uses in ``epoch``.

        Args:
            index: Image index.
            epoch: Epoch number.

        Returns:
            0..4.
        """
        return int(np.random.default_rng((self.seed, epoch, index)).integers(5))

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:  # type: ignore[override]
        """Return the sample of an image for this dataset's task.

        Args:
            key: Image index, or ``(index, epoch)`` for the caption task's caption choice.

        Returns:
            The sample dict (see the class docstring).
        """
        index, epoch = key if isinstance(key, tuple) else (key, self.epoch)
        index = self._check_index(int(index))
        scene = self.render(index)
        image = torch.from_numpy(scene.image).permute(2, 0, 1).float()
        sample: dict[str, Any] = {'image': image}
        if self.task == 'caption':
            choice = self.caption_index(index, int(epoch))
            sample['caption'] = self.captions_of(index)[choice]
            if self.tokenizer is not None:
                sample['text'] = self.tokens_of(index)[choice]
        elif self.task == 'retrieval':
            sample['index'] = index
        elif self.task == 'scene':
            sample['label'] = torch.tensor(scene.scene, dtype=torch.long)
        else:
            sample['caption'] = self.count_caption(index)
            sample['label'] = torch.tensor(scene.primary_count, dtype=torch.long)
            sample['class_name'] = scene.scene_type.primary
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _check_index(self, index: int) -> int:
        """Allow negative indices; raise IndexError outside the dataset."""
        if index < 0:
            index += self.length
        if not 0 <= index < self.length:
            raise IndexError(f'index {index} out of range for {self.length} images')
        return index

    def plot(
        self,
        sample: dict[str, Any],
        show_titles: bool = True,
        suptitle: str | None = None,
    ) -> Figure:
        """Plot a sample with its caption or label (and ``prediction`` when present).

        Args:
            sample: A sample from :meth:`__getitem__`.
            show_titles: Show the caption / class name above the image.
            suptitle: Figure title.

        Returns:
            The matplotlib figure.
        """
        image = sample['image'].permute(1, 2, 0).clamp(0, 255).byte().numpy()
        figure, axis = plt.subplots(figsize=(4, 4))
        axis.imshow(image)
        axis.axis('off')
        if show_titles:
            lines: Sequence[str]
            if 'caption' in sample:
                lines = [str(sample['caption'])]
            elif 'label' in sample:
                lines = [f'label: {self.classes[int(sample["label"])]}']
            else:
                lines = []
            if 'prediction' in sample:
                prediction = sample['prediction']
                if isinstance(prediction, Tensor) and self.task == 'scene':
                    prediction = self.classes[int(prediction)]
                lines = [*lines, f'prediction: {prediction}']
            axis.set_title('\n'.join(lines), fontsize=8, wrap=True)
        if suptitle is not None:
            figure.suptitle(suptitle)
        return figure
