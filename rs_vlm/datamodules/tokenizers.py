"""open_clip tokenizers by model name, including the package's own small configs."""

import importlib

import open_clip
from open_clip.tokenizer import HFTokenizer, SimpleTokenizer

__all__ = ['get_tokenizer']


def get_tokenizer(model_name: str = 'ViT-B-32', context_length: int = 77) -> object:
    """Return the open_clip tokenizer of ``model_name`` (``list[str] -> LongTensor [N, L]``).

    Names open_clip does not know yet (the ``rs-*`` configs) are registered by importing
    :mod:`rs_vlm.models` first.

    Args:
        model_name: An open_clip model name, or released weights (``RemoteCLIP-ViT-B-32``:
            the tokenizer of their architecture).
        context_length: Token sequence length.

    Returns:
        The tokenizer.

    Raises:
        ValueError: Unknown model name.
    """
    if model_name not in open_clip.list_models():
        try:
            importlib.import_module('rs_vlm.models')
        except ImportError:
            pass
        else:
            from rs_vlm.models.registry import architecture_of

            model_name = architecture_of(model_name)
    if model_name not in open_clip.list_models():
        raise ValueError(
            f'unknown model name {model_name!r} for the tokenizer; expected one of '
            'open_clip.list_models() (e.g. ViT-B-32, RN50) or an rs_vlm config (rs-vit-tiny)'
        )
    tokenizer: SimpleTokenizer | HFTokenizer = open_clip.get_tokenizer(
        model_name, context_length=context_length
    )
    return tokenizer
