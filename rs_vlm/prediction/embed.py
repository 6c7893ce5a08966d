"""Embed images and captions into an ``.npz`` file, and search it by text, image or vector.

The file (NumPy ``.npz``, read with ``allow_pickle=False``) holds:

* ``image_features`` ``float32 [N, D]`` and ``image_files`` ``str [N]``;
* ``caption_features`` ``float32 [M, D]`` and ``captions`` ``str [M]``;
* ``model`` and ``checkpoint`` (an absolute path, ``''`` for random weights): what
  :func:`search` reloads to encode a query, from any working directory.

Every feature row is L2-normalised, so a dot product is the cosine similarity.
"""

import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from tokenize import TokenError

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from rs_vlm.atomic import atomic_write
from rs_vlm.errors import InputError
from rs_vlm.prediction.classify import display_names
from rs_vlm.prediction.encoding import (
    OnError,
    encode_image_files,
    encode_texts,
    find_images,
)
from rs_vlm.prediction.inputs import read_captions
from rs_vlm.prediction.model import LoadedModel, load_for_prediction

__all__ = [
    'Embeddings',
    'SearchHit',
    'embed_captions',
    'embed_images',
    'load_embeddings',
    'save_embeddings',
    'search',
]

_KEYS = ('image_features', 'image_files', 'caption_features', 'captions', 'model', 'checkpoint')


@dataclass
class Embeddings:
    """Image and caption features with their names (one embeddings file).

    Attributes:
        image_features: ``[N, D]`` float32, L2-normalised.
        image_files: The N image names.
        caption_features: ``[M, D]`` float32, L2-normalised.
        captions: The M captions.
        model_name: The model that made them.
        checkpoint: Its weights file ('' for random weights).
        skipped: ``(image, reason)`` of unreadable images (not saved).
    """

    image_features: np.ndarray
    image_files: list[str]
    caption_features: np.ndarray
    captions: list[str]
    model_name: str = ''
    checkpoint: str = ''
    skipped: tuple[tuple[str, str], ...] = ()


def _absolute(checkpoint: str | Path | None) -> str:
    # stored resolved, so a search from another working directory finds the same file
    return str(Path(checkpoint).resolve()) if checkpoint else ''


def _empty(width: int) -> np.ndarray:
    return np.zeros((0, width), dtype=np.float32)


def embed_images(
    images: str | Path | Iterable[str | Path],
    *,
    model_name: str = 'ViT-B-32',
    checkpoint: str | Path | None = None,
    batch_size: int = 32,
    num_workers: int = 0,
    device: str | torch.device = 'auto',
    on_error: OnError = 'raise',
    progress: bool = False,
    force_quick_gelu: bool = False,
    loaded: LoadedModel | None = None,
) -> Embeddings:
    """Embed image files (a folder is searched recursively for .jpg/.png/.tif images).

    Args:
        images: A folder, image files, or both.
        model_name: open_clip model name.
        checkpoint: Weights file; random weights when None.
        batch_size: Images per forward.
        num_workers: Image-decoding worker processes.
        device: ``'auto'``, ``'cpu'``, ``'cuda'``...
        on_error: Unreadable image: ``'raise'`` or ``'skip'`` (listed in ``skipped``).
        progress: Show a progress bar.
        force_quick_gelu: Build the model with QuickGELU.
        loaded: A ``(model, preprocess, tokenizer)`` to reuse.

    Returns:
        Embeddings with images only (names relative to the folder when one was given).

    Raises:
        InputError: No images, or an unreadable one with ``on_error='raise'``.
        CheckpointError: A checkpoint that does not fit the model.
    """
    files = find_images(images)
    model, preprocess, _ = load_for_prediction(
        model_name, checkpoint, device, force_quick_gelu=force_quick_gelu, loaded=loaded
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
    skipped_names = display_names([path for path, _ in encoded.skipped], images)
    return Embeddings(
        encoded.features.numpy().astype(np.float32),
        display_names(encoded.files, images),
        _empty(encoded.features.shape[1]),
        [],
        model_name,
        _absolute(checkpoint),
        tuple(
            (name, reason) for name, (_, reason) in zip(skipped_names, encoded.skipped, strict=True)
        ),
    )


def embed_captions(
    captions: Sequence[str] | str | Path,
    *,
    model_name: str = 'ViT-B-32',
    checkpoint: str | Path | None = None,
    batch_size: int = 256,
    device: str | torch.device = 'auto',
    force_quick_gelu: bool = False,
    loaded: LoadedModel | None = None,
) -> Embeddings:
    """Embed captions given as a list or a file (one per line, or CSV with a ``title`` column).

    Args:
        captions: The captions, or a file holding them (a ``str`` is a file path).
        model_name: open_clip model name.
        checkpoint: Weights file; random weights when None.
        batch_size: Captions per forward.
        device: ``'auto'``, ``'cpu'``, ``'cuda'``...
        force_quick_gelu: Build the model with QuickGELU.
        loaded: A ``(model, preprocess, tokenizer)`` to reuse.

    Returns:
        Embeddings with captions only.

    Raises:
        InputError: An unreadable caption file or no captions.
    """
    texts = read_captions(captions) if isinstance(captions, str | Path) else list(captions)
    if not texts:
        raise InputError('<captions>', 'no captions to embed')
    model, _, tokenizer = load_for_prediction(
        model_name, checkpoint, device, force_quick_gelu=force_quick_gelu, loaded=loaded
    )
    features = encode_texts(model, tokenizer, texts, batch_size=batch_size).cpu().numpy()
    return Embeddings(
        _empty(features.shape[1]),
        [],
        features.astype(np.float32),
        texts,
        model_name,
        _absolute(checkpoint),
    )


def save_embeddings(embeddings: Embeddings, output: str | Path) -> Path:
    """Write embeddings to an ``.npz`` file atomically (layout: see the module docstring).

    Args:
        embeddings: Image and/or caption embeddings.
        output: The file.

    Returns:
        The path written.
    """
    output = Path(output)
    with atomic_write(output, 'wb') as handle:
        np.savez(
            handle,
            image_features=np.asarray(embeddings.image_features, dtype=np.float32),
            image_files=np.asarray(embeddings.image_files, dtype=np.str_),
            caption_features=np.asarray(embeddings.caption_features, dtype=np.float32),
            captions=np.asarray(embeddings.captions, dtype=np.str_),
            model=np.asarray(embeddings.model_name, dtype=np.str_),
            checkpoint=np.asarray(embeddings.checkpoint, dtype=np.str_),
        )
    return output


def load_embeddings(path: str | Path) -> Embeddings:
    """Read an embeddings file written by :func:`save_embeddings` / ``rs-vlm predict embed``.

    Every entry is checked before it is loaded (an array header declaring more data than its
    archive member holds is refused before anything is allocated), then its type and shape.

    Args:
        path: The ``.npz`` file.

    Returns:
        The embeddings.

    Raises:
        InputError: Missing file, not an npz archive, a missing entry, or an entry of the wrong
            type or shape, or with non-finite features (named by key).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, 'no such embeddings file')
    expected = 'expected the output of predict embed'
    try:
        with zipfile.ZipFile(path) as archive:
            _check_array_headers(path, archive)
        with np.load(path, allow_pickle=False) as archive:
            data = {key: archive[key] for key in _KEYS if key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, TokenError) as error:
        # numpy raises TokenError (tokenize) for some malformed .npy headers
        raise InputError(path, f'not an embeddings .npz file ({error}); {expected}') from None
    for key in _KEYS:
        if key not in data:
            raise InputError(path, 'entry missing; expected an rs-vlm embeddings file', key=key)
    width = None
    for features_key, names_key in (
        ('image_features', 'image_files'),
        ('caption_features', 'captions'),
    ):
        features, names = data[features_key], data[names_key]
        if names.ndim != 1 or names.dtype.kind != 'U':
            raise InputError(
                path, f'expected a list of strings, got {names.dtype} {names.shape}', key=names_key
            )
        if features.ndim != 2 or features.dtype.kind not in 'fiu' or len(features) != len(names):
            raise InputError(
                path,
                f'expected a float [{len(names)}, D] array (one row per entry of {names_key!r}), '
                f'got {features.dtype} {features.shape}',
                key=features_key,
            )
        if len(names) and width is not None and features.shape[1] != width:
            raise InputError(
                path,
                f'{features.shape[1]} dimensions, the image features {width}',
                key=features_key,
            )
        if len(names):
            width = features.shape[1]
        if not np.isfinite(features).all():
            raise InputError(path, 'features hold NaN or infinite values', key=features_key)
    for key in ('model', 'checkpoint'):
        if data[key].ndim != 0 or data[key].dtype.kind != 'U':
            raise InputError(
                path, f'expected one string, got {data[key].dtype} {data[key].shape}', key=key
            )
    return Embeddings(
        data['image_features'].astype(np.float32),
        [str(name) for name in data['image_files']],
        data['caption_features'].astype(np.float32),
        [str(text) for text in data['captions']],
        str(data['model']),
        str(data['checkpoint']),
    )


def _check_array_headers(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse ``.npy`` members whose header declares more bytes than the member holds."""
    for info in archive.infolist():
        key = info.filename.removesuffix('.npy')
        if key not in _KEYS:
            continue
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if declared > info.file_size:
                raise InputError(
                    path,
                    f'array header declares {shape} {dtype} ({declared:,} bytes), but the entry '
                    f'holds {info.file_size:,} bytes',
                    key=key,
                )


@dataclass
class SearchHit:
    """One search result.

    Attributes:
        kind: ``'image'`` or ``'caption'``.
        name: The image name or the caption text.
        score: Cosine similarity to the query.
        index: Row in that kind's feature matrix.
    """

    kind: str
    name: str
    score: float
    index: int


def _query_vector(
    query: str | Path | Image.Image | np.ndarray | Tensor,
    embeddings: Embeddings,
    loaded: LoadedModel | None,
    device: str | torch.device,
) -> np.ndarray:
    if isinstance(query, np.ndarray | Tensor):
        vector = torch.as_tensor(query, dtype=torch.float32).flatten()
        return torch.nn.functional.normalize(vector, dim=0).numpy()
    if loaded is None and not (embeddings.model_name and embeddings.checkpoint):
        # a reloaded random model would differ from the one that made the file
        raise ValueError(
            'the embeddings were made without a checkpoint (random weights), so the query '
            'cannot be encoded by the same model; pass loaded=(model, preprocess, tokenizer)'
        )
    model, preprocess, tokenizer = load_for_prediction(
        embeddings.model_name, embeddings.checkpoint or None, device, loaded=loaded
    )
    if isinstance(query, str):
        return encode_texts(model, tokenizer, [query])[0].cpu().numpy()
    if isinstance(query, Path):
        files = find_images(query)
        encoded = encode_image_files(model, preprocess, files[:1], progress=False)
        return encoded.features[0].numpy()
    parameter = next(model.parameters())
    pixels = preprocess(query.convert('RGB'))[None].to(parameter.device)
    with torch.no_grad():
        feature = model.encode_image(pixels).float()
    return torch.nn.functional.normalize(feature, dim=-1)[0].cpu().numpy()


def search(
    embeddings_file: str | Path | Embeddings,
    query: str | Path | Image.Image | np.ndarray | Tensor,
    k: int = 5,
    *,
    target: str = 'all',
    loaded: LoadedModel | None = None,
    device: str | torch.device = 'cpu',
) -> list[SearchHit]:
    """Nearest neighbours of a query among the images and/or captions of an embeddings file.

    The query is encoded with the model and checkpoint named in the file (pass ``loaded`` to
    reuse a model across many searches; required when the file was made with random weights):

    * ``str``: a text query (``'a harbour with many boats'``);
    * :class:`~pathlib.Path` or PIL image: an image query (a ``str`` is always text);
    * array / tensor ``[D]``: a feature vector used as it is (normalised).

    Args:
        embeddings_file: An ``.npz`` from ``rs-vlm predict embed`` (or loaded embeddings).
        query: The query.
        k: Number of hits.
        target: ``'all'``, ``'images'`` or ``'captions'``.
        loaded: ``(model, preprocess, tokenizer)`` to encode the query with.
        device: Where to run the model when it is loaded here.

    Returns:
        Up to ``k`` hits, most similar first.

    Raises:
        ValueError: An unknown ``target``, ``k < 1``, a vector of the wrong width, or a text or
            image query for a file made without a checkpoint and no ``loaded``.
        InputError: A bad embeddings file.
    """
    if target not in ('all', 'images', 'captions'):
        raise ValueError(f"target must be 'all', 'images' or 'captions', got {target!r}")
    if k < 1:
        raise ValueError(f'k must be >= 1, got {k}')
    embeddings = (
        embeddings_file
        if isinstance(embeddings_file, Embeddings)
        else load_embeddings(embeddings_file)
    )
    vector = _query_vector(query, embeddings, loaded, device)
    candidates: list[tuple[str, list[str], np.ndarray]] = []
    if target in ('all', 'images'):
        candidates.append(('image', embeddings.image_files, embeddings.image_features))
    if target in ('all', 'captions'):
        candidates.append(('caption', embeddings.captions, embeddings.caption_features))
    if not any(len(names) for _, names, _ in candidates):  # no silent empty result
        what = {'all': 'image or caption', 'images': 'image', 'captions': 'caption'}[target]
        source = '' if isinstance(embeddings_file, Embeddings) else f'{embeddings_file}: '
        raise ValueError(f'{source}the embeddings hold no {what} to search (target {target!r})')
    hits: list[SearchHit] = []
    for kind, names, features in candidates:
        if not len(names):
            continue
        if features.shape[1] != vector.shape[0]:
            raise ValueError(
                f'query has {vector.shape[0]} dimensions, the {kind} features {features.shape[1]}'
            )
        scores = features @ vector
        for index in np.argsort(-scores, kind='stable')[:k]:
            hits.append(SearchHit(kind, names[index], float(scores[index]), int(index)))
    hits.sort(key=lambda hit: -hit.score)
    return hits[:k]
