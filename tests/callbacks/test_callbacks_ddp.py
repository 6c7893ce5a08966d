from evaluation_stand_ins import NumberCounting, NumberRetrieval, NumberScenes, OracleModule
from lightning.pytorch import Trainer

from rs_vlm.callbacks import CountingCallback, RetrievalCallback, ZeroShotCallback


def callbacks():
    scenes = NumberScenes(values=(0.1, 0.6, 1.0, 1.2, 2.0, 1.4, 0.4), labels=(0, 0, 1, 1, 2, 2, 0))
    return [
        RetrievalCallback({'numbers': NumberRetrieval()}, top_k=(1, 2), batch_size=1),
        ZeroShotCallback({'scenes': scenes}, top_k=(1, 2), batch_size=2),
        CountingCallback(NumberCounting(), batch_size=1),
    ]


def run(devices, strategy):
    trainer = Trainer(
        accelerator='cpu',
        devices=devices,
        strategy=strategy,
        max_epochs=1,
        limit_train_batches=1,
        callbacks=callbacks(),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(OracleModule())
    return {k: round(v.item(), 4) for k, v in trainer.callback_metrics.items() if '/' in k[4:]}


def test_two_process_ddp_logs_the_single_process_values():
    single = run(1, 'auto')
    # odd sizes (4 images, 20 captions, 7 scenes, 4 counting samples) force padded shards
    assert single['val/scenes/top1'] == round(500 / 7, 4)
    distributed = run(2, 'ddp_fork')
    assert distributed == single
    assert len(single) == 5 + 2 + 11
