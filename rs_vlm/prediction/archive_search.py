"""Search an archive index (``rs-vlm predict index``) by text, image or vector; hits as GeoJSON.

A query is encoded by the model that built the index. The index's ``manifest.json`` names it
(model name, absolute checkpoint path and the checkpoint's SHA-256); a query with another model
is refused with both named, because features of different models are not comparable.
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from rs_vlm.atomic import atomic_write
from rs_vlm.errors import InputError
from rs_vlm.json_input import parse_json
from rs_vlm.prediction.archive_index import INDEX_FORMAT, checkpoint_sha256
from rs_vlm.prediction.model import LoadedModel, load_for_prediction
from rs_vlm.prediction.vector_index import set_search_parameters

__all__ = [
    'ArchiveHit',
    'ArchiveIndex',
    'ModelMismatchError',
    'hits_to_geojson',
    'load_archive_index',
    'query_vector',
    'search_archive',
    'write_geojson',
]


#: Largest ``nprobe`` / ``efSearch`` / ``k_factor`` a manifest may set.
_MAX_SEARCH_PARAMETER = 1 << 20


class ModelMismatchError(ValueError):
    """A query model that is not the one the index was built with."""


@dataclass
class ArchiveHit:
    """One search hit.

    Attributes:
        rank: 1 for the best hit.
        score: Cosine similarity to the query (approximate for compressed indexes).
        item: Item number (image order, or window order row by row).
        path: The image file (image archives).
        bounds: ``(left, bottom, right, top)`` of the window in the raster's CRS (rasters).
    """

    rank: int
    score: float
    item: int
    path: str | None = None
    bounds: tuple[float, float, float, float] | None = None


@dataclass
class ArchiveIndex:
    """A loaded index folder.

    Attributes:
        path: The folder.
        manifest: ``manifest.json``.
        index: The FAISS index.
        ids: Item number of each FAISS id.
        paths: Image files (image archives).
        windows: ``[N, 2]`` window top row / left column (raster archives).
    """

    path: Path
    manifest: dict[str, Any]
    index: Any
    ids: np.ndarray
    paths: list[str] | None
    windows: np.ndarray | None

    def search_vectors(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k of ``[Q, D]`` query vectors.

        Args:
            vectors: L2-normalised float32 queries.
            k: Hits per query.

        Returns:
            ``(scores [Q, k], item numbers [Q, k])``; -1 items where fewer than k exist.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.index.d)
        scores, faiss_ids = self.index.search(vectors, k)
        items = np.where(faiss_ids >= 0, self.ids[np.maximum(faiss_ids, 0)], -1)
        return scores, items

    def window_bounds(self, item: int) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` of a raster window in the raster's CRS.

        Args:
            item: Window number.

        Returns:
            The bounds.
        """
        from affine import Affine
        from rasterio.windows import Window, bounds

        assert self.windows is not None
        source = self.manifest['source']
        row, col = (int(v) for v in self.windows[item])
        size = int(source['window'])
        return bounds(Window(col, row, size, size), Affine(*source['transform']))


def load_archive_index(path: str | Path) -> ArchiveIndex:
    """Open an index folder written by :func:`~rs_vlm.prediction.build_archive_index`.

    Args:
        path: The folder.

    Returns:
        The index, with its stored search settings applied.

    Raises:
        InputError: A missing folder or file, an unfinished build or another format.
    """
    import faiss

    path = Path(path)
    manifest_file = path / 'manifest.json'
    if not path.is_dir():
        raise InputError(path, 'no such index folder; expected the output of rs-vlm predict index')
    if not manifest_file.is_file():
        hint = (
            ' (an unfinished build: run the same index command again to resume)'
            if (path / 'shards').is_dir()
            else ''
        )
        raise InputError(path, f'no manifest.json; not a finished rs-vlm index{hint}')
    try:
        text = manifest_file.read_bytes()
    except OSError as error:
        raise InputError(manifest_file, f'cannot read: {error.strerror or error}') from None
    manifest = parse_json(text, manifest_file, InputError)
    if not isinstance(manifest, dict) or manifest.get('format') != INDEX_FORMAT:
        raise InputError(manifest_file, f'expected format {INDEX_FORMAT!r}', key='format')
    _check_manifest(manifest, manifest_file)
    try:
        index = faiss.read_index(str(path / 'index.faiss'))
    except (RuntimeError, OSError, MemoryError) as error:
        raise InputError(path / 'index.faiss', f'unreadable FAISS index ({error})') from None
    if not isinstance(index, faiss.Index):  # a header faiss reads but cannot type
        raise InputError(path / 'index.faiss', 'not a FAISS index this faiss can search')
    if index.d != manifest['dim']:
        raise InputError(
            path / 'index.faiss',
            f'holds {index.d}-dimensional vectors; manifest.json says dim {manifest["dim"]}',
        )
    ids = _load_array(path / 'ids.npy', ndim=1)
    if index.ntotal != len(ids) or index.ntotal != manifest['count']:
        raise InputError(
            path,
            f'index.faiss holds {index.ntotal} vectors, ids.npy {len(ids)}, manifest.json '
            f'count {manifest["count"]}; expected the same number',
        )
    set_search_parameters(index, manifest.get('search_parameters', {}))
    paths = windows = None
    if manifest['source']['kind'] == 'images':
        paths = _read_paths(path / 'paths.txt')
        items = len(paths)
    else:
        windows = _load_array(path / 'windows.npy', ndim=2)
        if windows.shape[1] != 2:
            raise InputError(
                path / 'windows.npy', f'expected [N, 2] rows and columns, got {windows.shape}'
            )
        items = len(windows)
    if len(ids) and (ids.min() < 0 or ids.max() >= items):
        raise InputError(
            path / 'ids.npy',
            f'item numbers must be in [0, {items}) (one per listed image or window), got '
            f'{ids.min()}..{ids.max()}',
        )
    return ArchiveIndex(path, manifest, index, ids, paths, windows)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_manifest(manifest: dict[str, Any], manifest_file: Path) -> None:
    """Refuse a manifest whose values the search would trip on, naming the key."""
    for key in ('model', 'checkpoint', 'checkpoint_sha256', 'dim', 'count', 'source'):
        if key not in manifest:
            raise InputError(manifest_file, 'missing', key=key)
    for key in ('model', 'checkpoint', 'checkpoint_sha256'):
        if not isinstance(manifest[key], str):
            raise InputError(manifest_file, 'expected a string', key=key)
    for key in ('dim', 'count'):
        if not _is_int(manifest[key]) or manifest[key] < 1:
            raise InputError(manifest_file, 'expected an integer >= 1', key=key)
    source = manifest['source']
    if not isinstance(source, dict) or source.get('kind') not in ('images', 'raster'):
        raise InputError(
            manifest_file, "expected {'kind': 'images' or 'raster', ...}", key='source'
        )
    if source['kind'] == 'raster':
        transform = source.get('transform')
        if not _is_int(source.get('window')) or source['window'] < 1:
            raise InputError(manifest_file, 'expected a window size >= 1', key='source.window')
        if not (
            isinstance(transform, list)
            and len(transform) == 6
            and all(isinstance(v, int | float) and math.isfinite(v) for v in transform)
        ):
            raise InputError(
                manifest_file, 'expected 6 finite numbers (an affine)', key='source.transform'
            )
    parameters = manifest.get('search_parameters', {})
    if not isinstance(parameters, dict):
        raise InputError(manifest_file, 'expected an object', key='search_parameters')
    for name, value in parameters.items():
        if not _is_int(value) or not 1 <= value <= _MAX_SEARCH_PARAMETER:
            raise InputError(
                manifest_file,
                f'expected an integer in [1, {_MAX_SEARCH_PARAMETER}]',
                key=f'search_parameters.{name}',
            )


def _load_array(file: Path, ndim: int) -> np.ndarray:
    """An integer ``.npy`` array of ``ndim`` dimensions, read without trusting its header."""
    try:
        # Memory-mapped: a header that declares more data than the file holds is refused
        # instead of allocated.
        mapped = np.load(file, mmap_mode='r', allow_pickle=False)
        array = np.array(mapped) if isinstance(mapped, np.ndarray) else None
    except (OSError, ValueError, EOFError) as error:
        raise InputError(file, f'unreadable .npy array ({error})') from None
    if array is None or array.ndim != ndim or not np.issubdtype(array.dtype, np.integer):
        found = 'not an array' if array is None else f'{array.dtype} of shape {array.shape}'
        raise InputError(file, f'expected a {ndim}-D integer array, got {found}')
    return array.astype(np.int64)


def _read_paths(file: Path) -> list[str]:
    """The image paths of ``paths.txt``, one a line."""
    try:
        text = file.read_text(encoding='utf-8')
    except UnicodeDecodeError as error:
        raise InputError(file, f'not UTF-8 text ({error.reason})') from None
    except OSError as error:
        raise InputError(file, f'cannot read: {error.strerror or error}') from None
    # Split on line feeds only: a file name may hold other Unicode line breaks.
    lines = text.split('\n')
    return lines[:-1] if lines[-1] == '' else lines


def _released(model: str) -> bool:
    from rs_vlm.models.registry import get_released_weights

    return get_released_weights(model) is not None


def _describe(model: str, checkpoint: str, digest: str) -> str:
    if checkpoint:
        weights = f'{checkpoint} (sha256 {digest[:12]})'
    else:
        weights = 'its released weights' if _released(model) else 'random weights'
    return f'{model} with {weights}'


def _check_identity(
    archive: ArchiveIndex, model_name: str | None, checkpoint: str | Path | None
) -> str:
    """Refuse a query model other than the index's; return the index's model described."""
    manifest = archive.manifest
    built = _describe(manifest['model'], manifest['checkpoint'], manifest['checkpoint_sha256'])
    if model_name is not None or checkpoint is not None:
        name = model_name or manifest['model']
        if checkpoint and not Path(checkpoint).is_file():
            raise InputError(checkpoint, 'no such checkpoint file')
        digest = checkpoint_sha256(checkpoint) if checkpoint else ''
        asked = _describe(name, str(checkpoint or ''), digest)
        if name != manifest['model'] or digest != manifest['checkpoint_sha256']:
            raise ModelMismatchError(
                f'{archive.path}: the index was built with {built}; the query model is {asked}. '
                'Features of different models are not comparable: query with the same model or '
                'build an index with this one'
            )
    return built


def _query_model(
    archive: ArchiveIndex,
    model_name: str | None,
    checkpoint: str | Path | None,
    loaded: LoadedModel | None,
    device: str | torch.device,
) -> LoadedModel:
    manifest = archive.manifest
    built = _check_identity(archive, model_name, checkpoint)
    if loaded is not None:
        return load_for_prediction(manifest['model'], loaded=loaded)
    stored = manifest['checkpoint']
    if not stored and _released(manifest['model']):
        # released weights by name (RemoteCLIP-ViT-B-32): the registry fetches the same file
        return load_for_prediction(manifest['model'], None, device)
    if not stored:
        raise ValueError(
            f'{archive.path}: the index was built with random weights ({manifest["model"]}), '
            'which cannot be rebuilt to encode a query; pass loaded=(model, preprocess, '
            'tokenizer) or a vector query'
        )
    path = Path(checkpoint) if checkpoint else Path(stored)
    if not path.is_file():
        raise InputError(path, f'the checkpoint of this index is missing; the index needs {built}')
    if not checkpoint and checkpoint_sha256(path) != manifest['checkpoint_sha256']:
        raise ModelMismatchError(
            f'{archive.path}: the index was built with {built}, but {path} has changed since '
            f'(sha256 {checkpoint_sha256(path)[:12]}); rebuild the index'
        )
    return load_for_prediction(manifest['model'], path, device)


def query_vector(
    query: str | Path | Image.Image | np.ndarray | Tensor, loaded: LoadedModel | None
) -> np.ndarray:
    """An L2-normalised query vector: text, image file, PIL image, or a given vector.

    Args:
        query: ``str`` text, :class:`~pathlib.Path` image file, PIL image, or ``[D]`` vector.
        loaded: The model (not needed for a vector).

    Returns:
        ``[D]`` float32.
    """
    from rs_vlm.prediction.encoding import encode_image_files, encode_texts, find_images

    if isinstance(query, np.ndarray | Tensor):
        vector = torch.as_tensor(query, dtype=torch.float32).flatten()
        return torch.nn.functional.normalize(vector, dim=0).numpy()
    assert loaded is not None
    model, preprocess, tokenizer = loaded
    if isinstance(query, str):
        if not query.strip():
            raise ValueError('the text query is empty')
        return encode_texts(model, tokenizer, [query])[0].cpu().numpy()
    if isinstance(query, Path):
        encoded = encode_image_files(model, preprocess, find_images(query)[:1], progress=False)
        return encoded.features[0].numpy()
    parameter = next(model.parameters())
    pixels = preprocess(query.convert('RGB'))[None].to(parameter.device)
    with torch.no_grad():
        feature = model.encode_image(pixels).float()
    return torch.nn.functional.normalize(feature, dim=-1)[0].cpu().numpy()


def search_archive(
    index: str | Path | ArchiveIndex,
    query: str | Path | Image.Image | np.ndarray | Tensor,
    k: int = 20,
    *,
    model_name: str | None = None,
    checkpoint: str | Path | None = None,
    loaded: LoadedModel | None = None,
    device: str | torch.device = 'cpu',
) -> list[ArchiveHit]:
    """Top-k items of an archive index for a text, image or vector query.

    Args:
        index: An index folder, or a loaded :class:`ArchiveIndex`.
        query: ``str`` text; :class:`~pathlib.Path` or PIL image; ``[D]`` vector.
        k: Number of hits.
        model_name: The query model, checked against the index's (None: the index's).
        checkpoint: The query model's weights, checked by SHA-256 (None: the index's).
        loaded: ``(model, preprocess, tokenizer)`` to encode with (trusted to be the index's).
        device: Where to load the model.

    Returns:
        Up to ``k`` hits, best first.

    Raises:
        ModelMismatchError: A query model other than the index's (both are named).
        ValueError: ``k < 1``, an empty text or a vector of the wrong width.
        InputError: A bad index folder or a missing checkpoint.
    """
    if k < 1:
        raise ValueError(f'k must be >= 1, got {k}')
    archive = index if isinstance(index, ArchiveIndex) else load_archive_index(index)
    if isinstance(query, np.ndarray | Tensor):
        _check_identity(archive, model_name, checkpoint)
        model = None
    else:
        model = _query_model(archive, model_name, checkpoint, loaded, device)
    vector = query_vector(query, model)
    if vector.shape[0] != archive.index.d:
        raise ValueError(f'query has {vector.shape[0]} dimensions, the index {archive.index.d}')
    scores, items = archive.search_vectors(vector[None], min(k, archive.index.ntotal))
    hits = []
    for rank, (score, item) in enumerate(zip(scores[0], items[0], strict=True), start=1):
        if item < 0:
            continue
        if archive.paths is not None:
            hits.append(ArchiveHit(rank, float(score), int(item), path=archive.paths[item]))
        else:
            hits.append(
                ArchiveHit(rank, float(score), int(item), bounds=archive.window_bounds(item))
            )
    return hits


def hits_to_geojson(archive: ArchiveIndex, hits: list[ArchiveHit]) -> dict[str, Any]:
    """Window footprints of raster hits as a GeoJSON FeatureCollection in WGS 84 (lon, lat).

    Args:
        archive: The raster index the hits came from.
        hits: Its hits.

    Returns:
        The FeatureCollection (``rank``, ``score``, ``item`` properties).

    Raises:
        ValueError: An image index, or a raster without a CRS (no place on Earth).
    """
    from rasterio.crs import CRS
    from rasterio.warp import transform_geom

    source = archive.manifest['source']
    if source.get('kind') != 'raster':
        raise ValueError(f'{archive.path}: GeoJSON needs a raster index (this one indexes images)')
    if not source.get('crs'):
        raise ValueError(f'{archive.path}: the raster has no CRS, so hits have no place on Earth')
    crs = CRS.from_wkt(source['crs'])
    features = []
    for hit in hits:
        assert hit.bounds is not None
        left, bottom, right, top = hit.bounds
        ring = [(left, bottom), (right, bottom), (right, top), (left, top), (left, bottom)]
        geometry = transform_geom(
            crs, 'EPSG:4326', {'type': 'Polygon', 'coordinates': [ring]}, precision=-1
        )
        features.append({
            'type': 'Feature',
            'geometry': geometry,
            'properties': {'rank': hit.rank, 'score': hit.score, 'item': hit.item},
        })  # fmt: skip
    return {'type': 'FeatureCollection', 'features': features}


def write_geojson(collection: dict[str, Any], output: str | Path) -> Path:
    """Write a FeatureCollection atomically.

    Args:
        collection: What :func:`hits_to_geojson` returned.
        output: The ``.geojson`` file.

    Returns:
        The path written.
    """
    output = Path(output)
    with atomic_write(output) as handle:
        json.dump(collection, handle, indent=1)
        handle.write('\n')
    return output
