import json

import numpy as np
import pytest
import torch
from PIL import Image

from rs_vlm.cli import main as rs_vlm_main
from rs_vlm.evaluation.paper_numbers import (
    PAPER_KNN,
    PAPER_LINEAR,
    PAPER_RETRIEVAL,
    PAPER_ZERO_SHOT,
    paper_backbone,
)
from rs_vlm.evaluation.report import compare, render_markdown


def save_png(path, seed, size=16):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def make_data_root(root):
    # retrieval: RSITMD with 3 test images x 5 captions (Karpathy JSON)
    images = []
    for i in range(3):
        save_png(root / 'rsitmd' / 'images' / f'img{i}.png', i)
        sentences = [{'raw': f'scene {i} caption {j} with a bridge'} for j in range(5)]
        images.append({'filename': f'img{i}.png', 'split': 'test', 'sentences': sentences})
    (root / 'rsitmd' / 'dataset_rsitmd.json').write_text(json.dumps({'images': images}))
    # scene: AID, 3 classes x 5 images (4 trainval + 1 test each)
    for c, folder in enumerate(['Airport', 'Beach', 'Forest']):
        for i in range(5):
            save_png(root / 'aid' / folder / f'{folder.lower()}_{i}.jpg', 100 + 10 * c + i)
    # a class folder WHU-RS19 does not have
    for i in range(5):
        save_png(root / 'whu-rs19' / 'NotAClass' / f'x{i}.jpg', 200 + i)
    # RemoteCount: the third caption does not state its count
    save_png(root / 'remotecount' / 'images' / 'a.png', 300)
    save_png(root / 'remotecount' / 'images' / 'b.png', 301)
    save_png(root / 'remotecount' / 'images' / 'c.png', 302)
    (root / 'remotecount' / 'remotecount.csv').write_text(
        'filepath,caption,class_name,count\n'
        'images/a.png,There are three planes.,plane,3\n'
        'images/b.png,Two ships are in the harbor.,ship,2\n'
        'images/c.png,Some storage tanks.,storage-tank,4\n'
    )


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    from rs_vlm.models import create_clip

    path = tmp_path_factory.mktemp('ckpt') / 'tiny.pt'
    torch.manual_seed(0)
    torch.save(create_clip('rs-vit-tiny').state_dict(), path)
    return path


@pytest.mark.slow
def test_evaluate_runs_what_is_present_and_reports_the_rest(tmp_path, checkpoint):
    make_data_root(tmp_path / 'data')
    out = tmp_path / 'report'
    rc = rs_vlm_main(
        ['evaluate', '--model', 'rs-vit-tiny', '--checkpoint', str(checkpoint),
         '--data-root', str(tmp_path / 'data'), '--output', str(out), '--linear-epochs', '5',
         '--few-shot-shots', '1,2,8', '--few-shot-seeds', '0,1', '--batch-size', '4']
    )  # fmt: skip
    assert rc == 1  # WHU-RS19's class folders do not match its class list
    report = json.loads((out / 'report.json').read_text())
    errors = {(e['suite'], e['dataset']): e['message'] for e in report['errors']}
    assert 'NotAClass' in errors[('zero-shot', 'WHU-RS19')]
    skipped = {(s['suite'], s['dataset']) for s in report['skipped']}
    assert ('retrieval', 'RSICD') in skipped and ('zero-shot', 'EuroSAT') in skipped
    retrieval = report['retrieval']['RSITMD']['ours']
    assert retrieval['i2t_r10'] == 100.0  # 15 captions: top 10 always holds one of 5 positives
    six = [retrieval[k] for k in retrieval if k != 'mean_recall']
    assert retrieval['mean_recall'] == pytest.approx(sum(six) / 6)
    assert set(report['zero-shot']['AID']['ours']) == {'top1', 'top5'}
    # 3 of AID's 30 class folders are present: the other 27 are neither scored nor hidden
    (note,) = report['zero-shot']['AID']['notes']
    assert note.startswith('27 of 30 classes missing, not scored: dense residential, park')
    zero_shot = report['zero-shot']['AID']['ours']
    assert 0 <= zero_shot['top1'] <= zero_shot['top5'] <= 100
    few_shot = report['few-shot']['AID']
    assert set(few_shot['ours']) == {'1-shot', '2-shot', '8-shot'}
    # 4 trainval images per class: 8-shot is not evaluable, with the reason instead of a number
    assert few_shot['ours']['8-shot'] is None and few_shot['ours']['2-shot'] is not None
    assert few_shot['notes'][0] == (
        "8-shot not evaluable: 8-shot needs 8 training images per class; class 'airport' has 4"
    )
    assert 0 <= report['knn']['AID']['ours']['top1'] <= 100
    count = report['count']['RemoteCount (word)']
    assert count['scored'] == 2 and count['ours']['top10'] == 100.0
    assert any('1 annotation rows skipped' in note for note in count['notes'])
    assert report['paper_backbone'] is None  # the tiny model has no paper row
    markdown = (out / 'report.md').read_text()
    assert '| RSITMD | mean_recall |' in markdown and 'WHU-RS19' in markdown
    assert '| AID | 8-shot | - |' in markdown
    for plot in report['plots']:
        assert (out / plot).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert {'plots/confusion_aid.png', 'plots/count_accuracy.png'} <= set(report['plots'])
    assert 'plots/retrieval_examples_rsitmd.png' in report['plots']
    assert list((out / 'tensorboard').glob('events.out.tfevents.*'))
    assert not list(out.rglob('*.tmp'))


def test_wrong_architecture_is_reported(tmp_path, checkpoint):
    out = tmp_path / 'report'
    (tmp_path / 'aid').mkdir()  # a data root with a dataset folder: the model fails first
    rc = rs_vlm_main(
        ['evaluate', '--model', 'rs-rn-tiny', '--checkpoint', str(checkpoint),
         '--data-root', str(tmp_path), '--output', str(out), '--suite', 'zero-shot']
    )  # fmt: skip
    assert rc == 1
    report = json.loads((out / 'report.json').read_text())
    assert report['errors'][0]['suite'] == 'model'
    assert str(checkpoint) in report['errors'][0]['message']
    assert '## Errors' in (out / 'report.md').read_text()


@pytest.mark.parametrize('layout', ['missing', 'file', 'empty'])
def test_a_data_root_without_benchmarks_fails_before_loading(tmp_path, capsys, layout):
    root = tmp_path / 'dataa'
    if layout == 'file':
        root.write_text('not a folder')
    elif layout == 'empty':
        root.mkdir()
    rc = rs_vlm_main(
        ['evaluate', '--model', 'RemoteCLIP-ViT-L-14', '--data-root', str(root),
         '--output', str(tmp_path / 'report')]
    )  # fmt: skip
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and f'--data-root {root}' in err
    assert not (tmp_path / 'report').exists()


def test_a_data_root_with_no_requested_benchmark_exits_non_zero(tmp_path, capsys, checkpoint):
    root = tmp_path / 'data'
    (root / 'rsitmd').mkdir(parents=True)  # retrieval data, but zero-shot is asked for
    rc = rs_vlm_main(
        ['evaluate', '--model', 'rs-vit-tiny', '--checkpoint', str(checkpoint),
         '--data-root', str(root), '--output', str(tmp_path / 'report'), '--suite', 'zero-shot',
         '--no-tensorboard']
    )  # fmt: skip
    assert rc == 1
    assert 'no benchmark of the suites zero-shot found' in capsys.readouterr().err


def test_unknown_suite_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        rs_vlm_main(['evaluate', '--model', 'RN50', '--output', 'x', '--suite', 'zero-shot,foo'])
    assert exit_info.value.code == 2
    assert "unknown ['foo']" in capsys.readouterr().err


def test_paper_tables_are_transcribed_consistently():
    # Table III's "Avg" column and Table II's mR are the means of the transcribed entries
    averages = {'RN50': 53.46, 'ViT-B-32': 62.41, 'ViT-L-14': 71.30}
    for backbone, table in PAPER_ZERO_SHOT.items():
        assert sum(table.values()) / 12 == pytest.approx(averages[backbone], abs=0.006)
    for tables in PAPER_RETRIEVAL.values():
        for row in tables.values():
            six = [v for k, v in row.items() if k != 'mean_recall']
            assert sum(six) / 6 == pytest.approx(row['mean_recall'], abs=0.006)
    assert set(PAPER_LINEAR) == set(PAPER_KNN) == {'RN50', 'ViT-B-32'}
    assert paper_backbone('ViT-B-32-quickgelu') == 'ViT-B-32'
    assert paper_backbone('rs-vit-tiny') is None


def test_compare_and_markdown():
    entry = compare({'top1': 60.0, 'top5': 90.0}, {'top1': 62.41})
    assert entry['difference'] == {'top1': -2.41}
    text = render_markdown(
        {'model': 'ViT-B-32', 'suites': ['zero-shot'], 'errors': [], 'skipped': [],
         'zero-shot': {'AID': entry}}
    )  # fmt: skip
    assert '| AID | top1 | 60.00 | 62.41 | -2.41 |' in text
    assert '| AID | top5 | 90.00 | - | - |' in text


@pytest.mark.slow
def test_evaluate_skip_reports_missing_classes(tmp_path, checkpoint):
    # MLRSNet with one release folder misspelt: 'skip' drops its class, the report says so
    root = tmp_path / 'data' / 'mlrsnet' / 'Images'
    for c, folder in enumerate(['airplane', 'swimmimg_pool', 'swiming_pool']):
        for i in range(5):
            save_png(root / folder / f'{folder}_{i}.jpg', 400 + 10 * c + i)
    out = tmp_path / 'report'
    args = ['evaluate', '--model', 'rs-vit-tiny', '--checkpoint', str(checkpoint),
            '--data-root', str(tmp_path / 'data'), '--output', str(out), '--suite', 'zero-shot',
            '--batch-size', '4', '--no-tensorboard']  # fmt: skip
    assert rs_vlm_main(args) == 1  # default 'raise': the dataset is an error naming the folder
    errors = json.loads((out / 'report.json').read_text())['errors']
    (message,) = [e['message'] for e in errors if e['dataset'] == 'MLRSNet']
    assert 'swiming_pool' in message and "closest class names: ['swimming pool'" in message
    assert rs_vlm_main([*args, '--on-error', 'skip']) == 0
    entry = json.loads((out / 'report.json').read_text())['zero-shot']['MLRSNet']
    assert entry['notes'][0].startswith('44 of 46 classes missing')
    assert entry['notes'][1] == 'folders matching no class, skipped: Images/swiming_pool'
    # 2 classes scored (airplane, swimming pool): top-5 covers both
    assert entry['ours']['top5'] == 100.0


def test_evaluate_finds_the_benchmarks_under_the_training_data_root_names(tmp_path, checkpoint):
    # the data root `rs-vlm prepare` and the recipe configs read: RSITMD/, AID/, ... (data.md)
    root = tmp_path / 'data'
    images = []
    for i in range(2):
        save_png(root / 'RSITMD' / 'images' / f'img{i}.png', i)
        sentences = [{'raw': f'scene {i} caption {j}'} for j in range(5)]
        images.append({'filename': f'img{i}.png', 'split': 'test', 'sentences': sentences})
    (root / 'RSITMD' / 'dataset_rsitmd.json').write_text(json.dumps({'images': images}))
    for c, folder in enumerate(['Airport', 'Beach']):
        for i in range(5):
            save_png(root / 'AID' / folder / f'{folder.lower()}_{i}.jpg', 100 + 10 * c + i)
    out = tmp_path / 'report'
    rc = rs_vlm_main(
        ['evaluate', '--model', 'rs-vit-tiny', '--checkpoint', str(checkpoint), '--data-root',
         str(root), '--output', str(out), '--suite', 'retrieval,zero-shot', '--no-tensorboard']
    )  # fmt: skip
    assert rc == 0
    report = json.loads((out / 'report.json').read_text())
    assert set(report['retrieval']) == {'RSITMD'} and set(report['zero-shot']) == {'AID'}
    assert report['retrieval']['RSITMD']['ours']['i2t_r5'] == 100.0  # 10 captions, 5 positives
    skipped = {(s['dataset'], s['reason']) for s in report['skipped']}
    assert ('UCM', f'folder {root / "ucm"} (or {root / "UCM-Captions"}) not found') in skipped


def test_a_training_data_root_folder_without_a_test_split_is_skipped(tmp_path, checkpoint):
    root = tmp_path / 'data'
    save_png(root / 'RSICD' / 'images' / 'a.png', 0)  # a train-only copy (prepare reads it)
    (root / 'RSICD' / 'train_filename.txt').write_text('a.png\n')
    (root / 'RSICD' / 'train_caps.txt').write_text('a caption\n' * 5)
    save_png(root / 'rsitmd' / 'images' / 'b.png', 1)
    (root / 'rsitmd' / 'dataset_rsitmd.json').write_text(json.dumps({'images': []}))
    out = tmp_path / 'report'
    rc = rs_vlm_main(
        ['evaluate', '--model', 'rs-vit-tiny', '--checkpoint', str(checkpoint), '--data-root',
         str(root), '--output', str(out), '--suite', 'retrieval', '--no-tensorboard']
    )  # fmt: skip
    report = json.loads((out / 'report.json').read_text())
    reasons = {s['dataset']: s['reason'] for s in report['skipped']}
    assert reasons['RSICD'].startswith(f'{root / "RSICD"} holds no test split')
    errors = {e['dataset'] for e in report['errors']}
    assert 'RSICD' not in errors and 'RSITMD' in errors  # our own folder name stays strict
    assert rc == 1


def test_a_missing_checkpoint_fails_before_loading(tmp_path, capsys):
    (tmp_path / 'aid').mkdir()
    missing = tmp_path / 'nothere.pt'
    rc = rs_vlm_main(
        ['evaluate', '--model', 'rs-vit-tiny', '--checkpoint', str(missing),
         '--data-root', str(tmp_path), '--output', str(tmp_path / 'report')]
    )  # fmt: skip
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and f'--checkpoint {missing} does not exist' in err
    assert not (tmp_path / 'report').exists()
