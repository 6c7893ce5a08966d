import math

import pytest
import torch

from rs_vlm.evaluation.knn import knn_accuracy, knn_predict
from rs_vlm.evaluation.linear_probe import (
    few_shot_accuracy,
    linear_probe_accuracy,
    sample_few_shot,
    stratified_split,
)


def blobs(n_per_class, centres, noise, seed):
    gen = torch.Generator().manual_seed(seed)
    centres = torch.as_tensor(centres, dtype=torch.float)
    labels = torch.arange(len(centres)).repeat_interleave(n_per_class)
    features = centres[labels] + noise * torch.randn(len(labels), centres.shape[1], generator=gen)
    return features, labels


AXES = [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]]


def test_knn_weighting_worked_by_hand():
    # neighbours of the query [1, 0]: two of class 0 at cosine 0.5, one of class 1 at 0.9
    train = torch.tensor([[0.5, math.sqrt(0.75)], [0.5, -math.sqrt(0.75)], [0.9, math.sqrt(0.19)]])
    labels = torch.tensor([0, 0, 1])
    query = torch.tensor([[1.0, 0.0]])
    votes = knn_predict(train, labels, query, num_classes=2, k=3, temperature=0.07)
    # class 0: 2 * exp(0.5 / 0.07) ~ 2.5e3; class 1: exp(0.9 / 0.07) ~ 3.8e5 -> class 1 wins
    assert votes[0, 0].item() == pytest.approx(2 * math.exp(0.5 / 0.07), rel=1e-4)
    assert votes[0, 1].item() == pytest.approx(math.exp(0.9 / 0.07), rel=1e-4)
    # at T = 1: 2 e^0.5 = 3.30 > e^0.9 = 2.46 -> the majority class 0 wins
    votes = knn_predict(train, labels, query, num_classes=2, k=3, temperature=1.0)
    assert votes.argmax().item() == 0
    # k = 1 keeps only the nearest neighbour
    assert knn_predict(train, labels, query, 2, k=1).nonzero().tolist() == [[0, 1]]


def test_knn_on_separable_features_and_with_flipped_test_labels():
    train, train_labels = blobs(25, AXES, 0.1, seed=0)
    test, test_labels = blobs(10, AXES, 0.1, seed=1)
    assert knn_accuracy(train, train_labels, test, test_labels, 4) == 100.0
    flipped = test_labels.clone()
    flipped[::4] = (flipped[::4] + 1) % 4  # every 4th label wrong -> exactly 75 %
    assert knn_accuracy(train, train_labels, test, flipped, 4) == 75.0


def test_linear_probe_separable_and_label_noise():
    train, train_labels = blobs(20, AXES, 0.1, seed=2)
    test, test_labels = blobs(10, AXES, 0.1, seed=3)
    result = linear_probe_accuracy(train, train_labels, test, test_labels, 4, epochs=100)
    assert result.accuracy == 100.0
    assert result.validation_accuracy == 100.0
    flipped = test_labels.clone()
    flipped[::4] = (flipped[::4] + 1) % 4
    noisy = linear_probe_accuracy(train, train_labels, test, flipped, 4, epochs=100)
    assert noisy.accuracy == 75.0
    # the choice of hyper-parameters never looks at test labels
    assert (noisy.lr, noisy.weight_decay) == (result.lr, result.weight_decay)


def test_hyper_parameters_are_chosen_on_validation_split():
    # lr 0 cannot learn; lr 0.8 can: the search must pick 0.8 from validation accuracy
    train, train_labels = blobs(20, AXES, 0.1, seed=4)
    test, test_labels = blobs(5, AXES, 0.1, seed=5)
    result = linear_probe_accuracy(
        train, train_labels, test, test_labels, 4, search=[(0.0, 0.0), (0.8, 4e-5)], epochs=50
    )
    assert result.lr == 0.8
    fit, val = stratified_split(train_labels, 0.2, seed=0)
    assert len(set(fit.tolist()) & set(val.tolist())) == 0
    assert torch.bincount(train_labels[val]).tolist() == [4, 4, 4, 4]


def test_few_shot_sampling_is_class_balanced():
    labels = torch.tensor([0] * 50 + [1] * 3 + [2] * 20)
    for seed in range(3):
        chosen = sample_few_shot(labels, shots=8, seed=seed)
        assert torch.bincount(labels[chosen]).tolist() == [8, 3, 8]
        assert len(chosen.unique()) == len(chosen)
    assert not torch.equal(sample_few_shot(labels, 8, 0), sample_few_shot(labels, 8, 1))


def test_few_shot_accuracy_averages_seeds():
    train, train_labels = blobs(20, AXES, 0.1, seed=6)
    test, test_labels = blobs(5, AXES, 0.1, seed=7)
    results = few_shot_accuracy(
        train, train_labels, test, test_labels, 4, shots=(1, 4), seeds=(0, 1), epochs=50
    )
    assert [r.shots for r in results] == [1, 4]
    for r in results:
        assert len(r.accuracies) == 2
        assert r.mean == pytest.approx(sum(r.accuracies) / 2)
    assert results[1].mean == 100.0  # 4 shots of well-separated blobs suffice


def test_few_shot_k_above_a_class_size_is_not_evaluable_with_the_reason():
    train, train_labels = blobs(20, AXES, 0.1, seed=6)
    keep = (train_labels != 3) | (torch.arange(len(train_labels)) % 20 < 8)  # class 3: 8 images
    test, test_labels = blobs(5, AXES, 0.1, seed=7)
    results = few_shot_accuracy(
        train[keep], train_labels[keep], test, test_labels, 4, shots=(8, 16, 32), seeds=(0,),
        epochs=20, class_names=['a', 'b', 'c', 'harbor'],
    )  # fmt: skip
    assert results[0].mean is not None and results[0].not_evaluable is None
    for result, k in zip(results[1:], (16, 32), strict=True):
        assert result.mean is None and result.std is None and result.accuracies == []
        assert result.not_evaluable == (
            f"{k}-shot needs {k} training images per class; class 'harbor' has 8"
        )
