import pytest
import torch
import torch.nn.functional as F

from rs_vlm.evaluation.counting import count_caption_variants, find_count, score_counting


def test_variants_words_and_digits():
    variants = count_caption_variants('There are three planes parked near 2 hangars.')
    assert len(variants) == 10
    assert variants[0] == 'There are one planes parked near 2 hangars.'
    assert variants[9] == 'There are ten planes parked near 2 hangars.'
    digits = count_caption_variants('Seven ships in the harbor.', style='digit')
    assert digits[6] == '7 ships in the harbor.'
    assert count_caption_variants('Seven ships.')[1] == 'Two ships.'
    assert find_count('10 storage tanks') == (10, 0, 2)
    assert find_count('someone sees a tennis court') is None  # 'one' inside a word
    with pytest.raises(ValueError, match='has no number'):
        count_caption_variants('many ships in the harbor')


def test_score_counting_with_a_text_encoder_that_knows_the_count():
    # the encoder maps a caption to the one-hot of the count it states; image i is the one-hot
    # of a predicted count, so predictions are known by construction
    def encode(texts):
        counts = torch.tensor([find_count(t)[0] - 1 for t in texts])
        return F.one_hot(counts, 10).float()

    predicted = torch.tensor([3, 5, 1, 10])
    images = F.one_hot(predicted - 1, 10).float()
    captions = ['three cars', 'two ships', 'A plane: one.', 'ten tanks']
    report = score_counting(images, captions, [3, 2, 1, 10], encode)
    assert report.scored == 4 and report.skipped == []
    assert report.topk[0] == pytest.approx(75.0)  # sample 1 predicts 5 for a true 2
    assert report.confusion[1][4] == 1 and report.confusion[2][2] == 1


def test_caption_without_number_is_skipped_and_reported():
    def encode(texts):
        return F.normalize(torch.randn(len(texts), 4, generator=torch.Generator().manual_seed(0)))

    images = F.normalize(torch.randn(2, 4))
    report = score_counting(images, ['two cars', 'some cars'], [2, 2], encode)
    assert report.scored == 1
    assert report.skipped[0][0] == 1 and 'no number' in report.skipped[0][1]
    with pytest.raises(ValueError, match='no RemoteCount sample could be scored'):
        score_counting(images, ['cars', 'ships'], [2, 2], encode)
