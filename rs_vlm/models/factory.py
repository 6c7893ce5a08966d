"""Build open_clip models by name or config, and load weights from any supported file.

Every model we build has a 1-D ``logit_scale`` (``nonscalar_logit_scale=True``) because FSDP
refuses 0-d parameters; :mod:`rs_vlm.models.checkpoint` reshapes 0-d checkpoints on load and
:mod:`rs_vlm.models.export` writes the 0-d shape a default ``open_clip.create_model`` expects.
"""

import contextlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.transform import PreprocessCfg, image_transform_v2
from torch import nn

from rs_vlm.errors import CheckpointError
from rs_vlm.models.checkpoint import load_weights
from rs_vlm.models.registry import architecture_of, get_released_weights

__all__ = [
    'MODEL_CONFIG_DIR',
    'RELEASE_LAYOUTS',
    'create_clip',
    'evaluation_transform',
    'get_tokenizer',
    'load_model',
    'preprocess_config',
    'quickgelu_twin',
    'quiet_random_init',
    'register_model_config',
    'warn_if_gelu_for_quickgelu_weights',
]

#: Folder of the package's own model configs (``rs-vit-tiny``, ``rs-rn-tiny``).
MODEL_CONFIG_DIR = Path(__file__).with_name('model_configs')

_registered_dir: Path | None = None

logger = logging.getLogger(__name__)

# open_clip logs this on the root logger whenever create_model gets no pretrained tag, even when
# the caller loads weights right after; create_clip says what it did itself.
_RANDOM_INIT_MESSAGE = 'No pretrained weights loaded for model'


def _user_config_dir() -> Path:
    """A per-process folder for configs given as dicts (open_clip registers files only)."""
    global _registered_dir
    if _registered_dir is None:
        _registered_dir = Path(tempfile.mkdtemp(prefix='rs_vlm_model_configs_'))
    return _registered_dir


def register_model_config(model_name: str, config: Mapping[str, Any] | str | Path) -> None:
    """Register a model config with open_clip under ``model_name``.

    open_clip's registry (``open_clip.add_model_config``) takes JSON files named after the
    model, so a dict (or a JSON file with another name) is written to a per-process folder
    first. Afterwards ``open_clip.create_model(model_name)`` and
    ``open_clip.get_tokenizer(model_name)`` work as for built-in names.

    Args:
        model_name: The name to register.
        config: An open_clip model config (``embed_dim``, ``vision_cfg``, ``text_cfg``) as a
            dict or the path of a JSON file holding one.

    Raises:
        CheckpointError: If a JSON file cannot be read or lacks the required keys.
    """
    source = '<dict>'
    if isinstance(config, str | Path):
        source = str(config)
        try:
            config = json.loads(Path(config).read_text(encoding='utf-8'))
        except (OSError, json.JSONDecodeError) as error:
            raise CheckpointError(
                source, f'cannot read model config JSON ({error}); expected an open_clip config'
            ) from error
    config = dict(config)
    config = config.get('model_cfg', config)
    for key in ('embed_dim', 'vision_cfg', 'text_cfg'):
        if key not in config:
            raise CheckpointError(source, 'model config lacks a required open_clip entry', key=key)
    if open_clip.get_model_config(model_name) == config:
        return
    target = _user_config_dir() / f'{model_name}.json'
    target.write_text(json.dumps(config, indent=2), encoding='utf-8')
    open_clip.add_model_config(target)


def _check_name(model_name: str) -> str:
    """The open_clip architecture for ``model_name`` (a released-weights or open_clip name)."""
    architecture = architecture_of(model_name)
    if open_clip.get_model_config(architecture) is None:
        raise ValueError(
            f'unknown model name {model_name!r}: expected an open_clip model name '
            '(RN50-quickgelu, ViT-B-32-quickgelu, ViT-L-14-quickgelu for OpenAI-initialised '
            'weights such as RemoteCLIP, their plain GELU variants, rs-vit-tiny, rs-rn-tiny; '
            'all in open_clip.list_models()), released weights by name (rs-vlm models) or a '
            'model_config dict/JSON file'
        )
    return architecture


class _DropRandomInitMessage(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_RANDOM_INIT_MESSAGE)


@contextlib.contextmanager
def quiet_random_init() -> Iterator[None]:
    """Drop open_clip's "No pretrained weights loaded ... initialized randomly" log line.

    For code that builds a model and loads weights into it right after.
    """
    log_filter = _DropRandomInitMessage()
    root = logging.getLogger()
    root.addFilter(log_filter)
    try:
        yield
    finally:
        root.removeFilter(log_filter)


def _warn_activation(architecture: str, force_quick_gelu: bool, trained: bool, source: str) -> None:
    built = force_quick_gelu or bool(open_clip.get_model_config(architecture).get('quick_gelu'))
    if built != trained:
        want = 'QuickGELU' if trained else 'GELU'
        warnings.warn(
            f'{source} was trained with {want} but model {architecture!r} uses '
            f'{"QuickGELU" if built else "GELU"}: its features will be off; '
            + (
                f'use {architecture.removesuffix("-quickgelu")}-quickgelu or force_quick_gelu'
                if trained
                else f'use {architecture.removesuffix("-quickgelu")} without force_quick_gelu'
            ),
            stacklevel=3,
        )


def _tag_weights(architecture: str, tag: str) -> tuple[Path | None, dict[str, Any]]:
    """The local file of an open_clip pretrained tag from the Hub cache (None: URL-only tag)."""
    from rs_vlm.models.hub import cached_file, hub_file, hub_unreachable_reason

    config = open_clip.get_pretrained_cfg(architecture, tag)
    hub = config.get('hf_hub')
    if not hub:
        return None, config
    repo_id, filename = os.path.split(hub)
    if not filename or filename == 'open_clip_pytorch_model.bin':
        names = ['open_clip_model.safetensors', 'open_clip_pytorch_model.bin']
    elif filename.endswith(('.bin', '.pth')):
        names = [filename[:-4] + '.safetensors', filename]
    else:
        names = [filename]
    for name in names:
        if (found := cached_file(repo_id, name)) is not None:
            return found, config
    label = f'{architecture} pretrained={tag!r}'
    if hub_unreachable_reason() is not None:
        hub_file(repo_id, names[-1], label=label)  # raises the one-line "not cached" error
    error: Exception | None = None
    for name in names:
        try:
            return hub_file(repo_id, name, label=label), config
        except CheckpointError as failed:
            error = failed
    assert error is not None
    raise error


def create_clip(
    model_name: str,
    *,
    model_config: Mapping[str, Any] | str | Path | None = None,
    pretrained: str | Path | None = None,
    force_quick_gelu: bool = False,
    device: str | torch.device = 'cpu',
) -> nn.Module:
    """Create an open_clip ``CLIP`` model with a 1-D ``logit_scale`` and optional weights.

    Args:
        model_name: An open_clip model name (``ViT-B-32-quickgelu`` for RemoteCLIP and other
            OpenAI-initialised weights, ``rs-vit-tiny``...), a released-weights name
            (``RemoteCLIP-ViT-B-32``: its architecture is built; see ``rs-vlm models``) or,
            with ``model_config``, the name to register that config under. A plain
            ``RN50``/``ViT-B-32``/``ViT-L-14`` given a release-style weights file warns (see
            :func:`warn_if_gelu_for_quickgelu_weights`).
        model_config: A config dict or JSON path (see :func:`register_model_config`).
        pretrained: A local weights file in any format :func:`rs_vlm.models.load_weights`
            reads, a released-weights name (fetched through the Hugging Face Hub cache) or an
            open_clip pretrained tag (fetched the same way when the tag lives on the Hub).
        force_quick_gelu: Use QuickGELU whatever the config says (RemoteCLIP and OpenAI
            weights were trained with it; the ``-quickgelu`` names do the same).
        device: Where to put the model.

    Returns:
        The model in fp32, in train mode.

    Raises:
        ValueError: If the model name is unknown.
        CheckpointError: If ``pretrained`` is a file that does not fit the model, or names
            weights that are neither cached nor downloadable now (one line saying what to
            download and where).
    """
    if model_config is not None:
        register_model_config(model_name, model_config)
    architecture = _check_name(model_name)
    tag = None
    weights: Path | None = None
    tag_config: dict[str, Any] = {}
    released = get_released_weights(pretrained) if pretrained is not None else None
    if released is not None and not os.path.exists(str(pretrained)):
        from rs_vlm.models.hub import fetch_released_weights

        released_arch = open_clip.get_model_config(released.architecture) or {}
        _warn_activation(
            architecture, force_quick_gelu, bool(released_arch.get('quick_gelu')), released.name
        )
        weights = fetch_released_weights(released)
    elif pretrained is not None and not os.path.exists(pretrained):
        if open_clip.get_pretrained_cfg(architecture, str(pretrained)):
            weights, tag_config = _tag_weights(architecture, str(pretrained))
            _warn_activation(
                architecture,
                force_quick_gelu,
                bool(tag_config.get('quick_gelu')),
                f'pretrained tag {pretrained!r}',
            )
            if weights is None:
                tag = str(pretrained)
        else:
            raise CheckpointError(
                pretrained,
                f'no such file, not released weights (rs-vlm models) and not an open_clip '
                f'pretrained tag for {model_name!r} '
                f'(tags: {open_clip.list_pretrained_tags_by_model(architecture)})',
            )
    elif pretrained is not None:
        weights = Path(pretrained)
    with quiet_random_init():
        model = open_clip.create_model(
            architecture,
            pretrained=tag,
            force_quick_gelu=force_quick_gelu,
            nonscalar_logit_scale=True,
        )
    if weights is not None:
        layout = load_weights(model, weights)
        if tag_config:
            preprocess = dict(open_clip.get_model_preprocess_cfg(model))
            for key in ('mean', 'std', 'interpolation', 'resize_mode'):
                if key in tag_config:
                    preprocess[key] = tag_config[key]
            model.visual.preprocess_cfg = preprocess
        elif released is None and layout in RELEASE_LAYOUTS and not force_quick_gelu:
            warn_if_gelu_for_quickgelu_weights(architecture, weights)
    elif tag is None:
        logger.info('%s: random initial weights (no pretrained weights given)', model_name)
    return model.to(device)


#: Checkpoint layouts of weights trained outside rs_vlm from OpenAI CLIP (release and ITRA/open_clip
#: training files); our own Lightning checkpoints record the name they were trained under.
RELEASE_LAYOUTS = frozenset({'open_clip', 'open_clip_train', 'itra'})


def quickgelu_twin(model_name: str) -> str | None:
    """The ``-quickgelu`` variant of a plain OpenAI-family name, or None.

    Args:
        model_name: An open_clip model name.

    Returns:
        ``'<model_name>-quickgelu'`` when ``model_name`` builds GELU and open_clip has that
        variant (``RN50``, ``ViT-B-32``, ``ViT-L-14``, ...), else None.
    """
    config = open_clip.get_model_config(model_name) or {}
    twin = f'{model_name}-quickgelu'
    if config.get('quick_gelu', False) or twin not in open_clip.list_models():
        return None
    return twin


def warn_if_gelu_for_quickgelu_weights(model_name: str, source: str | Path) -> None:
    """Warn when a plain OpenAI-family name builds GELU for weights trained with QuickGELU.

    OpenAI CLIP, and every model fine-tuned from it through open_clip's ``openai`` tag
    (RemoteCLIP, GeoRSCLIP), use QuickGELU; the plain names build ``nn.GELU``, so the weights
    load without error but give different embeddings.

    Args:
        model_name: The name the model was built with.
        source: The weights file, named in the warning.
    """
    twin = quickgelu_twin(model_name)
    if twin is not None:
        warnings.warn(
            f'{source}: model name {model_name!r} builds GELU, but OpenAI-initialised weights '
            f'(RemoteCLIP releases included) were trained with QuickGELU; use {twin!r} '
            '(or force_quick_gelu=True) for faithful embeddings',
            UserWarning,
            stacklevel=3,
        )


def get_tokenizer(model_name: str, context_length: int | None = None) -> Callable[..., Any]:
    """The open_clip tokenizer for ``model_name`` (list[str] -> LongTensor [N, L]).

    Args:
        model_name: A registered open_clip model name.
        context_length: Override the model's context length.

    Returns:
        The tokenizer.
    """
    return open_clip.get_tokenizer(_check_name(model_name), context_length=context_length)


def evaluation_transform(model: nn.Module) -> Callable[[Any], torch.Tensor]:
    """open_clip's evaluation transform for ``model``: the one image preprocessing of evaluation.

    Built from the model's own preprocess config (size, mean/std, interpolation, resize mode),
    with ``open_clip.image_transform_v2`` as ``open_clip.create_model_and_transforms`` builds
    its second transform: PIL
    bicubic resize of the shorter side on the 8-bit image, centre crop, ``ToTensor``,
    normalisation. :func:`load_model`, the evaluation callbacks, ``rs-vlm evaluate`` and
    ``rs-vlm predict`` all preprocess with it.

    Args:
        model: An open_clip model.

    Returns:
        PIL image -> normalised ``[3, S, S]`` float tensor.
    """
    return image_transform_v2(preprocess_config(model), is_train=False)


def preprocess_config(model: nn.Module, image_size: int | None = None) -> PreprocessCfg:
    """The model's open_clip preprocess config (open_clip's defaults for what it lacks).

    Args:
        model: An open_clip model (or anything with ``visual.image_size``).
        image_size: Replace the input size.

    Returns:
        The config.
    """
    config = PreprocessCfg(**open_clip.get_model_preprocess_cfg(model))
    return config if image_size is None else replace(config, size=image_size)


def load_model(
    model_name: str,
    checkpoint: str | Path | None = None,
    device: str | torch.device = 'cpu',
    *,
    force_quick_gelu: bool = False,
) -> tuple[nn.Module, Callable[..., Any], Callable[..., Any]]:
    """Load a model for inference from any supported checkpoint format.

    Accepted files: a plain open_clip state_dict (official RemoteCLIP release), a raw training
    checkpoint (``state_dict`` with ``module.image_backbone.*`` / ``module.text_backbone.*`` /
    ``module.logit_scale``), an open_clip training checkpoint (``state_dict`` with ``module.``
    prefix) and our Lightning ``.ckpt``. All are read with ``weights_only=True``.

    Args:
        model_name: Released weights (``RemoteCLIP-ViT-B-32``, see ``rs-vlm models``: fetched
            through the Hugging Face Hub cache when ``checkpoint`` is None) or an open_clip
            model name. For RemoteCLIP weights in your own file use the ``-quickgelu``
            names (``RN50-quickgelu``, ``ViT-B-32-quickgelu``, ``ViT-L-14-quickgelu``).
        checkpoint: The weights file; for an open_clip model name, random weights when None.
        device: Where to put the model.
        force_quick_gelu: Use QuickGELU whatever the config says.

    Returns:
        ``(model, preprocess, tokenizer)``: the model in eval mode, open_clip's evaluation
        transform (PIL image -> normalised tensor) and the tokenizer.
    """
    if checkpoint is None and get_released_weights(model_name) is not None:
        checkpoint = model_name
    model = create_clip(
        model_name, pretrained=checkpoint, force_quick_gelu=force_quick_gelu, device=device
    )
    model.eval()
    preprocess = evaluation_transform(model)
    return model, preprocess, get_tokenizer(model_name)
