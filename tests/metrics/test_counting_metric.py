import pytest
import torch

from rs_vlm.metrics import CountingAccuracy


def test_topk_and_confusion_worked_by_hand():
    # rows: scores for counts 1..4; targets 1, 2, 4, 3
    scores = torch.tensor(
        [
            [0.9, 0.1, 0.0, 0.0],  # predicts 1, true 1 -> top-1 hit
            [0.5, 0.4, 0.3, 0.0],  # predicts 1, true 2 is 2nd -> top-2 hit
            [0.1, 0.2, 0.3, 0.4],  # predicts 4, true 4
            [0.4, 0.3, 0.1, 0.2],  # true 3 ranks 4th -> top-4 hit only
        ]
    )
    metric = CountingAccuracy(max_count=4)
    metric.update(scores[:2], torch.tensor([1, 2]))
    metric.update(scores[2:], torch.tensor([4, 3]))
    out = metric.compute()
    assert out['topk'].tolist() == pytest.approx([50.0, 75.0, 75.0, 100.0])
    expected = torch.zeros(4, 4, dtype=torch.long)
    expected[0, 0] = expected[1, 0] = expected[3, 3] = expected[2, 0] = 1
    assert torch.equal(out['confusion'], expected)
    assert out['confusion_normalized'][0].tolist() == pytest.approx([1, 0, 0, 0])


def test_rejects_out_of_range_counts():
    metric = CountingAccuracy(max_count=3)
    with pytest.raises(ValueError, match=r'1\.\.3'):
        metric.update(torch.zeros(1, 3), torch.tensor([4]))
    with pytest.raises(ValueError, match=r'\[B, 3\]'):
        metric.update(torch.zeros(1, 4), torch.tensor([1]))
