"""RemoteCLIP's published numbers, for side-by-side reports.

Sources: Liu et al., IEEE TGRS 2024, Tables II-IV; few-shot RN50 from the authors' GitHub
issue #3.

Keys: backbone (``RN50``, ``ViT-B-32``, ``ViT-L-14``) -> dataset name as in the paper's tables
-> value in percent. :func:`paper_backbone` maps an open_clip model name to a backbone key.
"""

__all__ = [
    'PAPER_FEW_SHOT',
    'PAPER_KNN',
    'PAPER_LINEAR',
    'PAPER_RETRIEVAL',
    'PAPER_ZERO_SHOT',
    'RETRIEVAL_KEYS',
    'ZERO_SHOT_ORDER',
    'paper_backbone',
]

#: Column order of Table II.
RETRIEVAL_KEYS = ('i2t_r1', 'i2t_r5', 'i2t_r10', 't2i_r1', 't2i_r5', 't2i_r10', 'mean_recall')


def _row(*values: float) -> dict[str, float]:
    return dict(zip(RETRIEVAL_KEYS, values, strict=True))


#: Table II: RemoteCLIP retrieval on the test splits.
PAPER_RETRIEVAL: dict[str, dict[str, dict[str, float]]] = {
    'RN50': {
        'RSITMD': _row(23.67, 47.57, 64.60, 19.29, 51.55, 70.58, 46.21),
        'RSICD': _row(13.36, 32.94, 44.83, 10.76, 32.83, 48.75, 30.58),
        'UCM': _row(13.33, 50.48, 74.76, 15.24, 57.14, 84.57, 49.25),
    },
    'ViT-B-32': {
        'RSITMD': _row(27.88, 50.66, 65.71, 22.17, 56.46, 73.41, 49.38),
        'RSICD': _row(17.02, 37.97, 51.51, 13.71, 37.11, 54.25, 35.26),
        'UCM': _row(20.48, 59.85, 83.33, 18.67, 61.52, 94.29, 56.36),
    },
    'ViT-L-14': {
        'RSITMD': _row(28.76, 52.43, 63.94, 23.76, 59.51, 74.73, 50.52),
        'RSICD': _row(18.39, 37.42, 51.05, 14.73, 39.93, 56.58, 36.35),
        'UCM': _row(19.05, 54.29, 80.95, 17.71, 62.19, 93.90, 54.68),
    },
}

#: Column order of Tables III and IV.
ZERO_SHOT_ORDER = (
    'RSI-CB128', 'RSI-CB256', 'WHU-earth', 'EuroSAT', 'MLRSNet', 'PatternNet', 'RESISC45',
    'AID', 'RS2800', 'OPTIMAL-31', 'RSC11', 'WHU-RS19',
)  # fmt: skip


def _table(*values: float) -> dict[str, float]:
    return dict(zip(ZERO_SHOT_ORDER, values, strict=True))


#: Table III: RemoteCLIP zero-shot top-1 accuracy.
PAPER_ZERO_SHOT: dict[str, dict[str, float]] = {
    'RN50': _table(13.95, 33.03, 56.25, 17.19, 40.68, 45.51, 53.24, 86.55, 62.86, 70.16,
                   66.93, 95.15),
    'ViT-B-32': _table(24.18, 39.5, 63.12, 35.96, 59.28, 57.71, 70.33, 91.30, 68.57, 77.96,
                       64.94, 96.12),
    'ViT-L-14': _table(37.22, 52.82, 70.83, 59.94, 66.32, 68.75, 79.84, 87.90, 72.32, 90.05,
                       74.90, 94.66),
}  # fmt: skip

#: Table IV: RemoteCLIP linear-probe top-1 accuracy (no ViT-L-14 row in the paper).
PAPER_LINEAR: dict[str, dict[str, float]] = {
    'RN50': _table(96.06, 98.39, 95.42, 92.56, 83.32, 97.37, 90.94, 94.35, 85.00, 92.74,
                   91.63, 98.06),
    'ViT-B-32': _table(98.02, 99.01, 95.42, 96.19, 87.00, 98.47, 94.27, 95.95, 86.96, 95.97,
                       91.63, 97.57),
}  # fmt: skip

#: Table IV: RemoteCLIP k-NN (k=20, T=0.07) top-1 accuracy.
PAPER_KNN: dict[str, dict[str, float]] = {
    'RN50': _table(94.78, 97.62, 95.63, 90.20, 81.21, 95.95, 90.05, 90.10, 89.46, 90.86,
                   85.66, 95.63),
    'ViT-B-32': _table(95.82, 98.51, 97.08, 93.50, 85.11, 97.32, 92.67, 92.55, 87.86, 94.35,
                       89.24, 94.17),
}  # fmt: skip

#: Few-shot top-1 of RemoteCLIP RN50 posted by the authors (shots -> dataset -> accuracy);
#: the 16-shot row lacks its last three datasets and 32-shot numbers were not published.
PAPER_FEW_SHOT: dict[str, dict[int, dict[str, float]]] = {
    'RN50': {
        1: _table(35.59, 42.52, 44.25, 43.20, 31.75, 46.10, 39.33, 36.95, 41.93, 42.80,
                  48.13, 45.15),
        4: _table(60.04, 65.44, 62.96, 55.53, 46.90, 66.99, 52.11, 63.13, 56.21, 62.63,
                  61.67, 73.59),
        8: _table(69.55, 75.89, 75.38, 61.75, 55.02, 77.07, 61.75, 70.50, 63.29, 73.01,
                  72.51, 85.44),
        16: dict(zip(ZERO_SHOT_ORDER[:9], (77.58, 83.72, 77.67, 70.36, 59.74, 82.93, 69.51,
                                           75.12, 73.86), strict=True)),
    },
}  # fmt: skip


def paper_backbone(model_name: str) -> str | None:
    """The paper's backbone key for an open_clip model name, or None.

    Args:
        model_name: e.g. ``RN50``, ``ViT-B-32-quickgelu``, ``hf-hub:.../ViT-L-14``.

    Returns:
        ``'RN50'``, ``'ViT-B-32'``, ``'ViT-L-14'`` or None for other architectures.
    """
    name = model_name.split('/')[-1].removesuffix('-quickgelu')
    return name if name in PAPER_RETRIEVAL else None
