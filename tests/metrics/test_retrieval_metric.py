import pytest
import torch
import torch.nn.functional as F
from evaluation_reference import official_protocol
from torchmetrics.retrieval import RetrievalHitRate

from rs_vlm.metrics import CrossModalRetrieval, retrieval_hit_rates

N_IMAGES, CAPTIONS_PER_IMAGE = 1093, 5  # RSICD test split


def random_embeddings(seed, n_images, dim=16, quantise=False):
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(n_images, dim, generator=gen)
    caption_to_image = torch.arange(n_images).repeat_interleave(CAPTIONS_PER_IMAGE)
    texts = images[caption_to_image] + 1.5 * torch.randn(len(caption_to_image), dim, generator=gen)
    if quantise:  # few distinct values -> many tied scores
        images, texts = images.round().clamp(-1, 1), texts.round().clamp(-1, 1)
    return images, texts, caption_to_image


@pytest.mark.parametrize('quantise', [False, True])
def test_equals_official_protocol_at_rsicd_shape(quantise):
    images, texts, caption_to_image = random_embeddings(0, N_IMAGES, quantise=quantise)
    if not quantise:
        images, texts = F.normalize(images, dim=-1), F.normalize(texts, dim=-1)
    else:
        scores = texts @ images.T
        assert scores.unique().numel() < 50  # the tie case really has ties
    ours = retrieval_hit_rates(images, texts, caption_to_image)
    expected = official_protocol(images, texts, caption_to_image)
    for key, value in expected.items():
        assert ours[key].item() == pytest.approx(value, abs=1e-4), key
    assert ours['mean_recall'].item() == pytest.approx(sum(expected.values()) / 6, abs=1e-4)
    assert 0 < ours['i2t_r1'] < ours['i2t_r5'] < ours['i2t_r10'] < 100


def test_equals_torchmetrics_hit_rate():
    images, texts, caption_to_image = random_embeddings(1, 120)
    images, texts = F.normalize(images, dim=-1), F.normalize(texts, dim=-1)
    ours = retrieval_hit_rates(images, texts, caption_to_image)
    scores = texts @ images.T  # [T, I]
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(len(texts)), caption_to_image] = True
    for name, s, p in (('t2i', scores, positive), ('i2t', scores.T, positive.T)):
        indexes = torch.arange(s.shape[0])[:, None].expand_as(s)
        for k in (1, 5, 10):
            metric = RetrievalHitRate(top_k=k)
            expected = metric(s.flatten(), p.flatten(), indexes=indexes.flatten())
            assert ours[f'{name}_r{k}'].item() == pytest.approx(expected.item() * 100, abs=1e-4)


def test_hand_worked_example():
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # caption 2 belongs to image 1 but is closer to image 0
    texts = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.2, 0.8]])
    out = retrieval_hit_rates(images, texts, [0, 1, 1, 0], top_k=(1, 2))
    assert out['t2i_r1'].item() == pytest.approx(50.0)  # captions 0, 1 hit; 2, 3 miss
    assert out['t2i_r2'].item() == pytest.approx(100.0)
    # image 0 ranks captions 0 (1.0), 2 (0.9): top-1 is its own; image 1 ranks 1 (1.0) first
    assert out['i2t_r1'].item() == pytest.approx(100.0)
    assert out['mean_recall'].item() == pytest.approx((50 + 100 + 100 + 100) / 4)


def test_metric_class_matches_functional_with_shuffled_padded_updates():
    images, texts, caption_to_image = random_embeddings(2, 40)
    images, texts = F.normalize(images, dim=-1), F.normalize(texts, dim=-1)
    expected = retrieval_hit_rates(images, texts, caption_to_image)
    metric = CrossModalRetrieval()
    image_order = torch.randperm(40, generator=torch.Generator().manual_seed(3))
    image_order = torch.cat([image_order, image_order[:3]])  # DistributedSampler-style padding
    for chunk in image_order.split(7):
        metric.update(image_features=images[chunk], image_ids=chunk)
    text_order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(4))
    text_order = torch.cat([text_order, text_order[:5]])
    for chunk in text_order.split(33):
        metric.update(
            text_features=texts[chunk], text_image_ids=caption_to_image[chunk], text_ids=chunk
        )
    result = metric.compute()
    for key, value in expected.items():
        assert result[key].item() == pytest.approx(value.item(), abs=1e-5), key


def test_bad_inputs_raise_clear_errors():
    images = torch.eye(3)
    with pytest.raises(ValueError, match='expected \\(2,\\)'):
        retrieval_hit_rates(images, torch.eye(3)[:2], [0, 1, 2])
    with pytest.raises(ValueError, match='image 2 has no caption'):
        retrieval_hit_rates(images, torch.eye(3)[:2], [0, 1])
    with pytest.raises(ValueError, match=r'outside 0\.\.2'):
        retrieval_hit_rates(images, torch.eye(3), [0, 1, 5])
    metric = CrossModalRetrieval()
    metric.update(image_features=images[:2], image_ids=torch.tensor([0, 1]))
    metric.update(text_features=images, text_image_ids=torch.tensor([0, 1, 7]))
    with pytest.raises(ValueError, match='image id 7'):
        metric.compute()
    with pytest.raises(ValueError, match='need image_ids'):
        CrossModalRetrieval().update(image_features=images)


@pytest.mark.slow
def test_real_rsicd_test_captions_with_bag_of_words_features(real_fixtures):
    """Real RSICD test captions (1,093 images, 5,465 captions, many exact duplicates -> ties)."""
    folder = real_fixtures / 'captions' / 'rsicd_precomp'
    captions = (folder / 'test_caps.txt').read_text(encoding='utf-8').splitlines()
    filenames = (folder / 'test_filename.txt').read_text(encoding='utf-8').splitlines()
    # official: images in np.unique order of the file names
    images = sorted(set(filenames))
    caption_to_image = torch.tensor([images.index(name) for name in filenames])
    assert (len(images), len(captions)) == (1093, 5465)
    vocabulary = {w: i for i, w in enumerate(sorted({w for c in captions for w in c.split()}))}
    texts = torch.zeros(len(captions), len(vocabulary))
    for row, caption in enumerate(captions):
        for word in caption.split():
            texts[row, vocabulary[word]] += 1
    texts = F.normalize(texts, dim=-1)
    # an image "sees" its first caption only, so the other four must be retrieved by content
    first = torch.tensor([filenames.index(name) for name in images])
    image_features = texts[first]
    ours = retrieval_hit_rates(image_features, texts, caption_to_image)
    expected = official_protocol(image_features, texts, caption_to_image)
    for key, value in expected.items():
        assert ours[key].item() == pytest.approx(value, abs=1e-4), key
    # an image's own first caption scores 1.0; it can only lose top-1 to an identical caption
    # of another image (an exact tie, broken by torch.topk), so misses are bounded by those
    owners: dict[str, set[int]] = {}
    for caption, image in zip(captions, caption_to_image.tolist()):
        owners.setdefault(caption, set()).add(image)
    shared = sum(len(owners[captions[int(i)]]) > 1 for i in first)
    misses = len(images) * (1 - ours['i2t_r1'].item() / 100)
    assert 0 < round(misses) <= shared


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_ties_across_every_k_boundary_match_topk(seed):
    """Heavily tied scores, every K from 1 to past the candidate count, against torch.topk."""
    images, texts, caption_to_image = random_embeddings(seed, 9, dim=3, quantise=True)
    scores = texts @ images.T
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(len(texts)), caption_to_image] = True
    top_k = tuple(range(1, 50))
    ours = retrieval_hit_rates(images, texts, caption_to_image, top_k=top_k)
    for name, s, p in (('t2i', scores, positive), ('i2t', scores.T, positive.T)):
        for k in top_k:
            picked = torch.topk(s, min(k, s.shape[1]), dim=1).indices
            expected = p.gather(1, picked).any(dim=1).float().mean() * 100
            assert ours[f'{name}_r{k}'].item() == pytest.approx(expected.item()), (name, k)
    assert ours['t2i_r9'].item() == ours['i2t_r45'].item() == 100.0  # K >= candidates


def test_non_finite_embeddings_are_named():
    images, texts = torch.eye(3), torch.eye(3)
    texts[1, 2] = float('nan')
    with pytest.raises(ValueError, match='text_features row 1 holds NaN or inf'):
        retrieval_hit_rates(images, texts, [0, 1, 2])
    images[2, 0] = float('inf')
    with pytest.raises(ValueError, match='image_features row 2'):
        retrieval_hit_rates(images, torch.eye(3), [0, 1, 2])


@pytest.mark.parametrize('top_k', [(1,), (2, 3), (1, 4, 7)])
def test_ties_beyond_a_small_top_k_window_match_topk(top_k):
    """The top-K window is full of scores tied with the positive: decided as torch.topk does."""
    images, texts, caption_to_image = random_embeddings(3, 40, dim=3, quantise=True)
    scores = texts @ images.T
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(len(texts)), caption_to_image] = True
    ours = retrieval_hit_rates(images, texts, caption_to_image, top_k=top_k)
    for name, s, p in (('t2i', scores, positive), ('i2t', scores.T, positive.T)):
        best = s.masked_fill(~p, -torch.inf).max(dim=1, keepdim=True).values
        assert ((s >= best).sum(1) > max(top_k)).any(), name  # some windows really are full
        for k in top_k:
            picked = torch.topk(s, k, dim=1).indices
            expected = p.gather(1, picked).any(dim=1).float().mean() * 100
            assert ours[f'{name}_r{k}'].item() == pytest.approx(expected.item()), (name, k)


def test_scores_stay_float32_inside_a_bf16_autocast_region():
    # a callback under a bf16-mixed trainer scores inside the trainer's autocast region; in
    # bf16 the scores 0.5 and 0.501 round to the same value and the tie costs one hit
    images = torch.tensor([[0.5, 0.0], [0.501, 0.0]])
    texts = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])  # caption 0 -> image 1, caption 1 -> image 0
    expected = retrieval_hit_rates(images, texts, [1, 0], top_k=(1,))
    assert float(expected['t2i_r1']) == 100.0
    with torch.autocast('cpu', dtype=torch.bfloat16):
        under_autocast = retrieval_hit_rates(images, texts, [1, 0], top_k=(1,))
    assert {k: float(v) for k, v in under_autocast.items()} == {
        k: float(v) for k, v in expected.items()
    }
