"""Zero-shot classifier: ITRA's recipe by default, open_clip's with normalise_prompts=True."""

import open_clip
import pytest
import torch
import torch.nn.functional as F

from rs_vlm.evaluation import build_zero_shot_classifier, zero_shot_accuracy
from rs_vlm.models import load_model

CLASSES = ['airport', 'beach', 'forest']
TEMPLATES = ['a satellite photo of {}.', 'an overhead view of a {}.', '{} from above.']


def fixed_embeddings(prompts):
    # class A's prompts: [3, 0] and [0, 1]; class B's: [0, 2] and [1, 0]
    table = {'A 1': [3.0, 0.0], 'A 2': [0.0, 1.0], 'B 1': [0.0, 2.0], 'B 2': [1.0, 0.0]}
    return torch.tensor([table[p] for p in prompts])


def test_itra_averages_raw_embeddings_and_open_clip_normalises_each_prompt():
    itra = build_zero_shot_classifier(fixed_embeddings, ['A', 'B'], ['{} 1', '{} 2'])
    # ITRA: mean([3,0],[0,1]) = [1.5,0.5] -> [3,1]/sqrt(10); mean([0,2],[1,0]) -> [1,2]/sqrt(5)
    expected_itra = torch.tensor([[3 / 10**0.5, 1 / 10**0.5], [1 / 5**0.5, 2 / 5**0.5]])
    assert torch.allclose(itra, expected_itra)
    per_prompt = build_zero_shot_classifier(
        fixed_embeddings, ['A', 'B'], ['{} 1', '{} 2'], normalise_prompts=True
    )
    # open_clip: unit vectors [1,0],[0,1] and [0,1],[1,0] both average to the diagonal
    diagonal = torch.full((2, 2), 0.5**0.5)
    assert torch.allclose(per_prompt, diagonal)


def test_empty_class_or_template_list_is_refused():
    with pytest.raises(ValueError, match='0 classes and 2 templates'):
        build_zero_shot_classifier(fixed_embeddings, [], ['{} 1', '{} 2'])


@pytest.fixture(scope='module')
def tiny_model():
    torch.manual_seed(0)
    model, _, tokenizer = load_model('rs-vit-tiny')
    return model, tokenizer


def test_on_a_real_model_both_recipes_match_their_reference(tiny_model):
    model, tokenizer = tiny_model

    def raw(prompts):
        return model.encode_text(tokenizer(prompts))

    with torch.no_grad():
        ours_itra = build_zero_shot_classifier(raw, CLASSES, TEMPLATES)
        ours_open_clip = build_zero_shot_classifier(raw, CLASSES, TEMPLATES, normalise_prompts=True)
        reference_open_clip = open_clip.build_zero_shot_classifier(
            model, tokenizer, CLASSES, TEMPLATES, num_classes_per_batch=1
        ).T
        # ITRA's zero_shot.py: encode a class's prompts, mean, normalise
        reference_itra = torch.stack(
            [
                F.normalize(raw([t.format(c) for t in TEMPLATES]).mean(dim=0), dim=-1)
                for c in CLASSES
            ]
        )
    assert torch.allclose(ours_open_clip, reference_open_clip, atol=1e-6)
    assert torch.allclose(ours_itra, reference_itra, atol=1e-6)
    # the recipes differ on a real model (the test above could not pass by accident)
    assert (ours_itra - ours_open_clip).abs().max() > 1e-4


def test_zero_shot_accuracy_uses_scaled_cosine_logits():
    classifier = torch.eye(3)
    images = F.normalize(torch.tensor([[1.0, 0.2, 0.0], [0.0, 0.1, 1.0], [0.9, 1.0, 0.0]]), dim=-1)
    result = zero_shot_accuracy(images, torch.tensor([0, 2, 0]), classifier, top_k=(1, 2))
    # third image: class 1 first, its true class 0 second
    assert result.accuracies == pytest.approx({'top1': 200 / 3, 'top2': 100.0})
    assert torch.allclose(result.logits, 100 * images)
    with pytest.raises(ValueError, match="'dataset': label 3 does not fit its 3 classes"):
        zero_shot_accuracy(images, torch.tensor([0, 1, 3]), classifier)


def test_logits_stay_float32_inside_a_bf16_autocast_region():
    # a callback under a bf16-mixed trainer classifies inside the trainer's autocast region
    generator = torch.Generator().manual_seed(0)
    images = F.normalize(torch.randn(40, 64, generator=generator), dim=-1)
    classifier = F.normalize(torch.randn(7, 64, generator=generator), dim=-1)
    labels = torch.arange(40) % 7
    expected = zero_shot_accuracy(images, labels, classifier, (1, 5))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        result = zero_shot_accuracy(images, labels, classifier, (1, 5))
    assert result.logits.dtype == torch.float32
    assert torch.equal(result.logits, 100 * images @ classifier.T)
    assert result.accuracies == expected.accuracies
