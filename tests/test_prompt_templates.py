"""Prompt templates: one bare ``{}`` slot, checked wherever templates are read."""

import pytest
import torch

from rs_vlm.callbacks.zero_shot import ZeroShotCallback
from rs_vlm.evaluation.zero_shot import build_zero_shot_classifier
from rs_vlm.prompt_templates import check_template, check_templates


@pytest.mark.parametrize(
    'template',
    ['a photo of {}.', '{}', '{{literal}} {} seen from above', 'an aerial image of {}, {{x}}'],
)
def test_bare_slot_is_accepted(template: str) -> None:
    check_template(template)
    assert template.format('port').count('port') == 1


@pytest.mark.parametrize(
    ('template', 'message'),
    [
        ('{:>999999999}', r"slot '\{:>999999999\}'"),
        ('a {0:{1}} b', 'slot'),
        ('{0}', r"slot '\{0\}'"),
        ('{name}', r"slot '\{name\}'"),
        ('{!r}', r"slot '\{!r\}'"),
        ('{[0]}', 'slot'),
        ('{0.__class__.__mro__}', 'slot'),
        ('no slot', "has 0 '{}' slots"),
        ('{} {}', "has 2 '{}' slots"),
        ('open { brace', 'unbalanced braces'),
        ('close } brace {}', 'unbalanced braces'),
    ],
)
def test_anything_but_one_bare_slot_is_refused(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_template(template)


def test_classifier_and_callback_refuse_before_encoding() -> None:
    encoded: list[list[str]] = []

    def encode(prompts: list[str]) -> torch.Tensor:
        encoded.append(prompts)
        return torch.ones(len(prompts), 4)

    with pytest.raises(ValueError, match='999999999'):
        build_zero_shot_classifier(encode, ['port'], ['a {}', '{:>999999999}'])
    assert encoded == []  # nothing was built or encoded
    with pytest.raises(ValueError, match='no prompt templates'):
        check_templates([])
    with pytest.raises(ValueError, match='999999999'):
        ZeroShotCallback({}, templates=['{:>999999999}'])
    classifier = build_zero_shot_classifier(encode, ['port', 'farm'], ['a {}', 'the {}'])
    assert encoded == [['a port', 'the port', 'a farm', 'the farm']]
    assert classifier.shape == (2, 4)
