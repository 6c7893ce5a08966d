"""Find image files and encode images and texts with a CLIP model into L2-normalised features.

Images are decoded with :func:`rs_vlm.io.decoding.load_image` (so multi-band and 16-bit
TIFFs get the same band choice and stretch as our datasets), turned into 8-bit PIL images and
passed through the model's own open_clip ``preprocess``. For 8-bit RGB files that is exactly
``preprocess(Image.open(path).convert('RGB'))``, the way RemoteCLIP's and open_clip's examples
feed images, so features match theirs.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from rs_vlm.errors import InputError
from rs_vlm.evaluation.preprocessing import to_pil
from rs_vlm.image_files import IMAGE_SUFFIXES
from rs_vlm.io.decoding import load_image
from rs_vlm.pixel_budget import check_pixel_budget, open_pillow_image

__all__ = [
    'IMAGE_SUFFIXES',
    'EncodedImages',
    'ImageFileDataset',
    'OnError',
    'encode_image_files',
    'encode_texts',
    'find_images',
    'open_rgb_image',
]


OnError = Literal['raise', 'skip']


def find_images(
    source: str | Path | Iterable[str | Path], suffixes: Iterable[str] = IMAGE_SUFFIXES
) -> list[Path]:
    """List image files: a folder is searched recursively, files are taken as given.

    Args:
        source: A folder, one image file, or several files and folders.
        suffixes: File suffixes to collect from folders (case-insensitive).

    Returns:
        The files, each folder's sorted by path, in the order the sources were given.

    Raises:
        InputError: If a source does not exist, or nothing with an image suffix is found.
    """
    allowed = {suffix.lower() for suffix in suffixes}
    sources = [source] if isinstance(source, str | Path) else list(source)
    files: list[Path] = []
    for entry in map(Path, sources):
        if entry.is_dir():
            files.extend(
                sorted(
                    path
                    for path in entry.rglob('*')
                    if path.suffix.lower() in allowed and path.is_file()
                )
            )
        elif entry.is_file():
            files.append(entry)
        else:
            raise InputError(entry, 'no such image file or folder')
    if not files:
        names = ', '.join(str(Path(s)) for s in sources)
        raise InputError(
            names, f'no image files found; expected files ending in {", ".join(sorted(allowed))}'
        )
    return files


#: Pillow modes that ``load_image`` turns into RGB with ``Image.convert('RGB')``.
_PILLOW_8_BIT_MODES = frozenset({'1', 'L', 'LA', 'P', 'PA', 'RGB', 'RGBA', 'RGBX', 'CMYK', 'YCbCr'})


def open_rgb_image(path: Path) -> Image.Image:
    """The 8-bit RGB image of ``path`` that open_clip's ``preprocess`` takes.

    8-bit files (JPEG, PNG, BMP, WebP, GIF) are decoded by Pillow straight into the image a
    user's ``preprocess(Image.open(path).convert('RGB'))`` sees, the same pixels
    :func:`~rs_vlm.io.decoding.load_image` gives, without its tensor round trip (a copy of a
    600 px image costs about as much as decoding it). TIFFs and other bit depths go through
    ``load_image``'s band selection and stretch.

    Args:
        path: An image file.

    Returns:
        The RGB image.

    Raises:
        OSError: The file is missing, truncated or not an image.
        ImageTooLargeError: The image is over the pixel budget.
    """
    if path.suffix.lower() not in ('.tif', '.tiff'):
        with open_pillow_image(path) as image:
            if image.mode in _PILLOW_8_BIT_MODES:
                check_pixel_budget(*image.size, path)
                return image.convert('RGB')
    return to_pil(load_image(path, dtype=torch.uint8))


class ImageFileDataset(Dataset[dict[str, Any]]):
    """Decoded and preprocessed image files; a file that cannot be read yields its error.

    Errors are returned rather than raised so that DataLoader workers never die on a bad
    file; :func:`encode_image_files` decides whether to raise or skip.

    Args:
        files: Image files.
        preprocess: PIL image -> normalised ``[3, S, S]`` tensor (open_clip's eval transform).
    """

    def __init__(self, files: Sequence[Path], preprocess: Callable[[Image.Image], Tensor]) -> None:
        self.files = list(files)
        self.preprocess = preprocess

    def __len__(self) -> int:
        """Number of files."""
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``{'index', 'image'}`` or, for an unreadable file, ``{'index', 'error'}``."""
        try:
            image = self.preprocess(open_rgb_image(self.files[index]))
        except Exception as error:  # PIL, rasterio and numpy raise many types for bad files
            return {'index': index, 'error': f'{type(error).__name__}: {error}'}
        return {'index': index, 'image': image}


def _collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    good = [sample for sample in samples if 'image' in sample]
    return {
        'image': torch.stack([sample['image'] for sample in good]) if good else None,
        'index': [sample['index'] for sample in good],
        'errors': [(sample['index'], sample['error']) for sample in samples if 'error' in sample],
    }


@dataclass
class EncodedImages:
    """Features of the images that could be read, and the ones that could not.

    Attributes:
        files: The encoded files, in input order.
        features: ``[len(files), D]`` float32 L2-normalised features (CPU).
        skipped: ``(file, reason)`` for every file that could not be read.
    """

    files: list[Path]
    features: Tensor
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def encode_image_files(
    model: nn.Module,
    preprocess: Callable[[Image.Image], Tensor],
    files: Sequence[Path],
    *,
    batch_size: int = 32,
    num_workers: int = 0,
    on_error: OnError = 'raise',
    progress: bool = True,
) -> EncodedImages:
    """Encode image files with ``model.encode_image`` into L2-normalised features.

    Args:
        model: An open_clip model (in eval mode).
        preprocess: Its evaluation transform (the second value of
            :func:`rs_vlm.models.load_model`).
        files: Image files.
        batch_size: Images per forward.
        num_workers: DataLoader worker processes decoding images.
        on_error: ``'raise'`` stops at the first unreadable file; ``'skip'`` leaves it out,
            counts it and lists it in ``skipped``.
        progress: Show a tqdm progress bar (on stderr).

    Returns:
        The features and the skipped files.

    Raises:
        InputError: An unreadable file, with ``on_error='raise'``.
        ValueError: An unknown ``on_error``.
    """
    if on_error not in ('raise', 'skip'):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    files = list(files)
    loader = DataLoader(
        ImageFileDataset(files, preprocess),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=_collate,
    )
    device = next(model.parameters()).device
    kept: list[int] = []
    features: list[Tensor] = []
    skipped: list[tuple[Path, str]] = []
    with (
        torch.no_grad(),
        tqdm(total=len(files), unit='img', desc='encoding images', disable=not progress) as bar,
    ):
        for batch in loader:
            for index, reason in batch['errors']:
                if on_error == 'raise':
                    raise InputError(
                        files[index],
                        f'cannot read image ({reason}); expected a JPEG, PNG or TIFF image. '
                        "Use on_error='skip' (--on-error skip) to leave bad files out",
                    )
                skipped.append((files[index], reason))
            if batch['image'] is not None:
                encoded = model.encode_image(batch['image'].to(device))
                features.append(F.normalize(encoded.float(), dim=-1).cpu())
                kept.extend(batch['index'])
            bar.update(len(batch['index']) + len(batch['errors']))
    if features:
        stacked = torch.cat(features)
    else:
        stacked = torch.zeros((0, _embed_dim(model)), dtype=torch.float32)
    return EncodedImages([files[i] for i in kept], stacked, skipped)


def _embed_dim(model: nn.Module) -> int:
    """The feature width, for an empty result (0 when the model does not say)."""
    return int(getattr(getattr(model, 'visual', None), 'output_dim', 0) or 0)


def encode_texts(
    model: nn.Module,
    tokenizer: Callable[[list[str]], Tensor],
    texts: Sequence[str],
    *,
    batch_size: int = 256,
) -> Tensor:
    """Tokenise and encode texts with ``model.encode_text`` into L2-normalised features.

    Args:
        model: An open_clip model (in eval mode).
        tokenizer: Its tokenizer (``list[str] -> LongTensor [N, L]``).
        texts: Captions or prompts.
        batch_size: Texts per forward.

    Returns:
        ``[len(texts), D]`` float32 features on the model's device.
    """
    device = next(model.parameters()).device
    chunks = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            tokens = tokenizer(list(texts[start : start + batch_size])).to(device)
            chunks.append(F.normalize(model.encode_text(tokens).float(), dim=-1))
    if not chunks:
        return torch.zeros((0, _embed_dim(model)), dtype=torch.float32, device=device)
    return torch.cat(chunks)
