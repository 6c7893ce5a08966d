"""Released remote-sensing CLIP weights by name: architecture, where to get them, paper.

Every entry is an open_clip state_dict (or an open_clip training checkpoint) for a stock
open_clip architecture. The architecture names the activation the weights were trained with:
models fine-tuned from OpenAI's CLIP weights were built by open_clip < 2.29 with QuickGELU
(``pretrained='openai'`` forced it), so they load faithfully only into the ``-quickgelu``
configs; models started from LAION weights use plain GELU.

Weights on the Hugging Face Hub are fetched with :func:`rs_vlm.models.hub.hub_file` (the
Hub's cache, resumable downloads, offline mode). Weights published elsewhere (SkyCLIP: zip
archives on Amazon S3) are listed with their address; pass the unpacked file as the checkpoint.
"""

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    'RELEASED_WEIGHTS',
    'ReleasedWeights',
    'architecture_of',
    'get_released_weights',
]

_REMOTECLIP = (
    'Liu et al., "RemoteCLIP: A Vision Language Foundation Model for Remote Sensing", '
    'IEEE TGRS 2024, arXiv:2306.11029'
)
_GEORSCLIP = (
    'Zhang et al., "RS5M and GeoRSCLIP: A Large Scale Vision-Language Dataset and A Large '
    'Vision-Language Model for Remote Sensing", IEEE TGRS 2024, arXiv:2306.11300'
)
_SKYCLIP = (
    'Wang et al., "SkyScript: A Large and Semantically Diverse Vision-Language Dataset for '
    'Remote Sensing", AAAI 2024, arXiv:2312.12856'
)
_SKYSCRIPT_S3 = 'https://opendatasharing.s3.us-west-2.amazonaws.com/SkyScript/ckpt/'


@dataclass(frozen=True)
class ReleasedWeights:
    """One released checkpoint.

    Attributes:
        name: The name users type (``RemoteCLIP-ViT-B-32``).
        architecture: The open_clip model name to build (``ViT-B-32-quickgelu``).
        paper: The publication that released the weights.
        repo_id: Hugging Face Hub repository, when the weights are on the Hub.
        filename: The file inside ``repo_id``.
        url: Download address of an archive outside the Hub.
        archive_member: The checkpoint inside that archive.
        note: Provenance: what the weights were trained from.
    """

    name: str
    architecture: str
    paper: str
    repo_id: str | None = None
    filename: str | None = None
    url: str | None = None
    archive_member: str | None = None
    note: str = ''

    @property
    def on_hub(self) -> bool:
        """Whether :func:`rs_vlm.models.hub.hub_file` can fetch the weights."""
        return self.repo_id is not None and self.filename is not None

    @property
    def source(self) -> str:
        """Where the weights live, as one string (``hf://org/repo/file`` or a URL)."""
        if self.on_hub:
            return f'hf://{self.repo_id}/{self.filename}'
        member = f' (file {self.archive_member})' if self.archive_member else ''
        return f'{self.url}{member}'


def _remoteclip(arch: str) -> ReleasedWeights:
    return ReleasedWeights(
        name=f'RemoteCLIP-{arch}',
        architecture=f'{arch}-quickgelu',
        paper=_REMOTECLIP,
        repo_id='chendelong/RemoteCLIP',
        filename=f'RemoteCLIP-{arch}.pt',
        note='fine-tuned from OpenAI CLIP with open_clip<2.29 (QuickGELU)',
    )


#: Name -> released weights. Sources: the RemoteCLIP README (chendelong/RemoteCLIP on the Hub),
#: the RS5M README (Zilun/GeoRSCLIP on the Hub; ViT-B/32 from ``pretrained='openai'``,
#: ViT-H/14 from ``laion2b_s32b_b79k``), the SkyScript README (zips on S3; ViT-B-32 from
#: ``laion2b_e16``, ViT-L-14 from ``openai``, 20 epochs).
RELEASED_WEIGHTS: dict[str, ReleasedWeights] = {
    entry.name: entry
    for entry in (
        _remoteclip('RN50'),
        _remoteclip('ViT-B-32'),
        _remoteclip('ViT-L-14'),
        ReleasedWeights(
            name='GeoRSCLIP-ViT-B-32',
            architecture='ViT-B-32-quickgelu',
            paper=_GEORSCLIP,
            repo_id='Zilun/GeoRSCLIP',
            filename='ckpt/RS5M_ViT-B-32.pt',
            note="fine-tuned on RS5M from open_clip ViT-B/32 pretrained='openai' (QuickGELU)",
        ),
        ReleasedWeights(
            name='GeoRSCLIP-ViT-H-14',
            architecture='ViT-H-14',
            paper=_GEORSCLIP,
            repo_id='Zilun/GeoRSCLIP',
            filename='ckpt/RS5M_ViT-H-14.pt',
            note='fine-tuned on RS5M from open_clip ViT-H/14 laion2b_s32b_b79k (GELU)',
        ),
        ReleasedWeights(
            name='SkyCLIP-ViT-B-32',
            architecture='ViT-B-32',
            paper=_SKYCLIP,
            url=_SKYSCRIPT_S3 + 'SkyCLIP_ViT_B32_top50pct.zip',
            archive_member='SkyCLIP_ViT_B32_top50pct/epoch_20.pt',
            note='continual pre-training on SkyScript top 50% from laion2b_e16 (GELU)',
        ),
        ReleasedWeights(
            name='SkyCLIP-ViT-L-14',
            architecture='ViT-L-14-quickgelu',
            paper=_SKYCLIP,
            url=_SKYSCRIPT_S3 + 'SkyCLIP_ViT_L14_top30pct_filtered_by_CLIP_laion_RS.zip',
            archive_member='SkyCLIP_ViT_L14_top30pct_filtered_by_CLIP_laion_RS/epoch_20.pt',
            note="continual pre-training on SkyScript top 30% from pretrained='openai' (QuickGELU)",
        ),
    )
}


def get_released_weights(name: str | Path | None) -> ReleasedWeights | None:
    """The registry entry called ``name`` (case-insensitive), or None.

    Args:
        name: A released-weights name such as ``RemoteCLIP-ViT-B-32``; anything else (a path,
            an open_clip name) gives None.

    Returns:
        The entry or None.
    """
    if name is None:
        return None
    wanted = str(name).lower()
    return next((entry for key, entry in RELEASED_WEIGHTS.items() if key.lower() == wanted), None)


def architecture_of(model_name: str) -> str:
    """The open_clip model name to build for ``model_name``.

    Args:
        model_name: A released-weights name or an open_clip model name.

    Returns:
        The registry entry's architecture, or ``model_name`` itself.
    """
    entry = get_released_weights(model_name)
    return entry.architecture if entry else model_name
