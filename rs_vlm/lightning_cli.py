"""LightningCLI behind ``rs-vlm fit|validate|test|predict`` (and ``python -m rs_vlm``).

Configs name classes by full ``class_path`` (any LightningModule / LightningDataModule, e.g.
:class:`rs_vlm.modules.RemoteCLIPModule` and ``rs_vlm.datamodules.CaptionDataModule``). The
parser runs in omegaconf mode, so ``${...}`` interpolation works inside a config file, and the
saved ``config.yaml`` is overwritten on a second run into the same log folder.

Checkpointing is the ``checkpoint`` section (a Lightning ``ModelCheckpoint``), so every setting
is reachable from the command line: ``--checkpoint.every_n_train_steps 1000
--checkpoint.save_top_k -1 --checkpoint.dirpath ckpts``.
"""

import sys
import warnings
from collections.abc import Sequence
from typing import Any

from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import CheckpointIO

from rs_vlm.reliability.checkpoint_io import AtomicCheckpointIO
from rs_vlm.reliability.config_keys import SuggestingArgumentParser
from rs_vlm.reliability.skipped_inputs import SkippedInputCounter

__all__ = ['RSVLMLightningCLI', 'run_lightning_cli']


class RSVLMLightningCLI(LightningCLI):
    """``LightningCLI`` with the package's defaults.

    Model and datamodule in subclass mode (any ``class_path``), omegaconf parser mode, and a
    ``SaveConfigCallback`` that overwrites ``config.yaml`` instead of refusing a second run.
    Reliability defaults: checkpoints are written atomically and loaded without unpickling code
    (:class:`~rs_vlm.reliability.AtomicCheckpointIO`, unless the config names another
    ``CheckpointIO`` plugin), skipped bad inputs are counted and logged
    (:class:`~rs_vlm.reliability.SkippedInputCounter`), and an unknown config key or option is
    reported with the closest valid one. The ``checkpoint`` section configures the trainer's
    ``ModelCheckpoint`` (dropped when ``trainer.enable_checkpointing`` is false).

    Args:
        args: Arguments (``sys.argv[1:]`` when None), a list or a dict.
        run: Run the subcommand after parsing.
        **kwargs: Other ``LightningCLI`` arguments (override the defaults above).
    """

    def __init__(self, args: ArgsType = None, run: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault('model_class', LightningModule)
        kwargs.setdefault('datamodule_class', LightningDataModule)
        kwargs.setdefault('subclass_mode_model', True)
        kwargs.setdefault('subclass_mode_data', True)
        kwargs.setdefault('save_config_kwargs', {'overwrite': True})
        kwargs.setdefault('parser_kwargs', {'parser_mode': 'omegaconf', 'prog': 'rs-vlm'})
        kwargs.setdefault('parser_class', SuggestingArgumentParser)
        kwargs.setdefault('trainer_defaults', {'callbacks': [SkippedInputCounter()]})
        super().__init__(args=args, run=run, **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Add the ``checkpoint`` section (``ModelCheckpoint`` settings, ``--checkpoint.*``).

        Args:
            parser: The subcommand's parser.
        """
        parser.add_lightning_class_args(ModelCheckpoint, 'checkpoint')

    def _checkpoint_section_set(self) -> bool:
        parser = self._parser(self.subcommand)
        given = self._get(self.config, 'checkpoint', default=None)
        return given is not None and given != parser.get_defaults().get('checkpoint')

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Callback]) -> Trainer:
        ours = [callback for callback in callbacks if isinstance(callback, ModelCheckpoint)]
        listed = config.get('callbacks') or []
        listed = listed if isinstance(listed, list) else [listed]
        drop = config.get('enable_checkpointing') is False
        if ours and any(isinstance(callback, ModelCheckpoint) for callback in listed):
            if self._checkpoint_section_set():
                raise ValueError(
                    'ModelCheckpoint is configured twice: in trainer.callbacks and in the '
                    'checkpoint section; keep the checkpoint section (settable from the command '
                    'line as --checkpoint.every_n_train_steps N ...)'
                )
            drop = True
        if drop:
            callbacks = [callback for callback in callbacks if callback not in ours]
        return super()._instantiate_trainer(config, callbacks)

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """Build the trainer, adding :class:`AtomicCheckpointIO` when no CheckpointIO is set.

        Args:
            **kwargs: Trainer arguments that override the config.

        Returns:
            The trainer.
        """
        config = self._get(self.config_init, 'trainer', default={}) or {}
        plugins = kwargs.get('plugins', config.get('plugins'))
        plugins = [] if plugins is None else plugins if isinstance(plugins, list) else [plugins]
        if not any(isinstance(plugin, CheckpointIO) for plugin in plugins):
            kwargs['plugins'] = [*plugins, AtomicCheckpointIO()]
        return super().instantiate_trainer(**kwargs)


def run_lightning_cli(argv: Sequence[str]) -> int:
    """Run a Lightning subcommand.

    Args:
        argv: ``[subcommand, *options]``, e.g. ``['fit', '--config', 'configs/rn50.yaml']``.

    Returns:
        The exit code (0 on success; argument errors return the parser's code).
    """
    # Importing registers the package's small model configs with open_clip, so configs that
    # name them (e.g. as a datamodule tokenizer) resolve before the model is built.
    import rs_vlm.models  # noqa: F401
    from rs_vlm.models.hub import WeightsUnavailableError

    try:
        with warnings.catch_warnings():
            # The arguments always come from our own command line; Lightning warns about
            # passing them as `args` while sys.argv is set, which is the point of this wrapper.
            warnings.filterwarnings('ignore', message=r"LightningCLI's args parameter")
            RSVLMLightningCLI(args=list(argv), run=True)
    except SystemExit as exit_:
        code = exit_.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    except (WeightsUnavailableError, ValueError) as error:
        # jsonargparse wraps errors raised while building the model in its own ValueError
        missing = _find_cause(error, WeightsUnavailableError)
        if missing is None:
            raise
        print(f'rs-vlm {argv[0] if argv else ""}: {missing}', file=sys.stderr)
        return 1
    return 0


def _find_cause(error: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
