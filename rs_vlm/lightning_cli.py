"""LightningCLI behind ``rs-vlm fit|validate|test|predict`` (and ``python -m rs_vlm``).

Configs name classes by full ``class_path`` (any LightningModule / LightningDataModule, e.g.
:class:`rs_vlm.modules.RemoteCLIPModule` and ``rs_vlm.datamodules.CaptionDataModule``). The
parser runs in omegaconf mode, so ``${...}`` interpolation works inside a config file, and the
saved ``config.yaml`` is overwritten on a second run into the same log folder.

Checkpointing is the ``checkpoint`` section (a Lightning ``ModelCheckpoint``), so every setting
is reachable from the command line: ``--checkpoint.every_n_train_steps 1000
--checkpoint.save_top_k -1 --checkpoint.dirpath ckpts``.
"""

import importlib
import json
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jsonargparse import set_parsing_settings
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from rs_vlm.datamodules.model_inputs import register_open_clip_resolver
from rs_vlm.errors import CheckpointError, ConfigError, InputError
from rs_vlm.models.checkpoint import read_checkpoint
from rs_vlm.output_paths import check_output_paths
from rs_vlm.reliability.checkpoint_hparams import (
    config_class_paths,
    differing_values,
    screen_checkpoint_hyperparameters,
)
from rs_vlm.reliability.checkpoint_io import AtomicCheckpointIO
from rs_vlm.reliability.config_keys import SuggestingArgumentParser
from rs_vlm.reliability.config_size import check_config_arguments
from rs_vlm.reliability.nonfinite_loss import NonFiniteLossError
from rs_vlm.reliability.preemption import SIGTERM_EXIT_CODE, PreemptionCheckpoint
from rs_vlm.reliability.skipped_inputs import SkippedBatchesError, SkippedInputCounter

__all__ = ['RSVLMLightningCLI', 'run_lightning_cli']

logger = logging.getLogger('rs_vlm.reliability')

#: ``ckpt_path`` values that name no file: Lightning resolves them when the run starts.
_SPECIAL_CKPT_PATHS = ('last', 'best', 'hpc', 'registry')


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
        # 'omegaconf+' resolves interpolations once, over the final config (files and command
        # line together): an override such as --data.init_args.data_root=... reaches every
        # ${data.init_args.data_root} in the file, and --print_config shows resolved values.
        # Configs write absolute paths (${model.init_args.model_name}); jsonargparse turns them
        # into the relative ones 'omegaconf+' needs below the subcommand's node.
        kwargs.setdefault('parser_kwargs', {'parser_mode': 'omegaconf+', 'prog': 'rs-vlm'})
        set_parsing_settings(omegaconf_absolute_to_relative_paths=True)
        register_open_clip_resolver()
        kwargs.setdefault('parser_class', SuggestingArgumentParser)
        kwargs.setdefault(
            'trainer_defaults', {'callbacks': [SkippedInputCounter(), PreemptionCheckpoint()]}
        )
        self._cli_args: ArgsType = args
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

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        """Parse the arguments, keeping them to layer checkpoint hyper-parameters under them.

        Args:
            parser: The parser.
            args: The arguments (a list, a dict or None for ``sys.argv``).
        """
        self._cli_args = sys.argv[1:] if args is None else args
        super().parse_arguments(parser, args)

    def _parse_ckpt_path(self) -> None:
        """Merge the ``--ckpt_path`` checkpoint's hyper-parameters *under* the given config.

        Lightning parses them on top of the config, so a checkpoint silently overrides values
        given on the command line, and its ``class_path`` values get imported. Here the file is
        read safely (a bad file is a :class:`~rs_vlm.errors.CheckpointError` naming it), only
        values that import nothing the config does not name are kept
        (:func:`~rs_vlm.reliability.checkpoint_hparams.screen_checkpoint_hyperparameters`), and
        they fill only what the config and command line leave at defaults. Where the user's
        values differ from the checkpoint's, the user's win and a warning lists them.
        """
        subcommand = self.config.get('subcommand')
        if not subcommand:
            return
        ckpt_path = self.config[subcommand].get('ckpt_path')
        if not ckpt_path:
            return
        text = str(ckpt_path)
        if text in _SPECIAL_CKPT_PATHS or text.startswith('registry:') or '://' in text:
            return
        checkpoint = read_checkpoint(text)
        if not isinstance(checkpoint, dict):
            raise CheckpointError(
                text, f'holds a {type(checkpoint).__name__}, expected a Lightning checkpoint dict'
            )
        hyperparameters = checkpoint.get('hyper_parameters') or {}
        if not isinstance(hyperparameters, dict):
            raise CheckpointError(text, 'expected a dict', key='hyper_parameters')
        model = self.config[subcommand].get('model')
        class_path = getattr(model, 'class_path', None)
        if not hyperparameters or not isinstance(class_path, str):
            return
        module_name, _, name = class_path.rpartition('.')
        model_class = getattr(importlib.import_module(module_name), name)
        config = self.config.clone().as_dict()[subcommand]
        init_args = (config.get('model') or {}).get('init_args') or {}
        safe, ignored = screen_checkpoint_hyperparameters(
            text, hyperparameters, model_class, class_path, init_args, config_class_paths(config)
        )
        if ignored:
            logger.warning(
                '%s: ignored hyper-parameters that %s does not take: %s',
                text,
                class_path,
                ', '.join(ignored),
            )
        self.config = self._layer_under_config(subcommand, class_path, safe)
        final = self.config.clone().as_dict()[subcommand]['model'].get('init_args') or {}
        for key, was, now in differing_values(safe, final):
            logger.warning(
                '%s: the config sets model %s=%r; the checkpoint was trained with %r (the config '
                'wins)',
                text,
                key,
                now,
                was,
            )

    def before_instantiate_classes(self) -> None:
        """Refuse batch sizes below 1, negative worker counts and learning rates at once.

        Raises:
            SystemExit: Through the parser's error, naming the config key and its value.
        """
        subcommand = self.config.get('subcommand')
        config = self.config[subcommand] if subcommand else self.config
        for section in ('data', 'model'):
            init_args = getattr(config.get(section), 'init_args', None)
            if init_args is None:
                continue
            for key, value in vars(init_args).items():
                problem = _bad_setting(key, value)
                if problem:
                    self.parser.error(f'{section}.init_args.{key}: {problem}')

    def instantiate_classes(self) -> None:
        """Build the classes; a bad setting a class refuses becomes a config error.

        Raises:
            SystemExit: Through the parser's error when a class rejects an argument.
        """
        try:
            super().instantiate_classes()
        except InputError:
            raise
        except ValueError as error:
            # jsonargparse wraps what a class raises in its own ValueError; a bad input file
            # (weights that are not cached offline, an unreadable checkpoint) stays one line
            cause = _find_cause(error, InputError)
            if cause is not None:
                raise cause from None
            self.parser.error(f'the config gives a value the classes refuse: {error}')

    def _layer_under_config(self, subcommand: str, class_path: str, values: dict) -> Any:
        """Re-parse with ``values`` as the model's init_args below every given argument."""
        layer = {'class_path': class_path, 'init_args': values}
        args = self._cli_args
        if isinstance(args, list | tuple) and args and args[0] == subcommand:
            # argparse applies options in order: the layer first, then config files and flags.
            return self.parser.parse_args([subcommand, '--model', json.dumps(layer), *args[1:]])
        explicit: dict = {}
        if isinstance(args, dict):
            given = (args.get(subcommand) or {}).get('model') or {}
            explicit = given.get('init_args') or {} if isinstance(given, dict) else {}
        layer['init_args'] = {key: v for key, v in values.items() if key not in explicit}
        return self.parser.parse_object({subcommand: {'model': layer}}, self.config)

    def _check_checkpoint_folders(self) -> None:
        """Refuse checkpoint folders that cannot be written before any training step."""
        folders: dict[str, Any] = {}
        for number, callback in enumerate(self.trainer.checkpoint_callbacks):
            dirpath = getattr(callback, 'dirpath', None)
            if dirpath is not None and '://' not in str(dirpath):
                folders[f'ModelCheckpoint #{number + 1} dirpath'] = dirpath
        root = self.trainer.default_root_dir
        if root is not None and '://' not in str(root):
            folders['trainer.default_root_dir'] = root
        check_output_paths(folders, {}, folders=list(folders))

    def _run_subcommand(self, subcommand: str) -> None:
        """Refuse ``--ckpt_path last`` when there is no last checkpoint, then run.

        Lightning then warns and starts from scratch (so that one command line serves the
        first run and every restart); a typo'd checkpoint folder or a lost volume would then
        silently train from scratch or evaluate random weights. We stop instead: the first
        run is started without ``--ckpt_path``.

        Args:
            subcommand: ``fit``, ``validate``, ``test`` or ``predict``.

        Raises:
            CheckpointError: ``ckpt_path`` is ``last`` and no checkpoint callback has one.
            OutputPathError: ``fit`` with a checkpoint folder that cannot be written.
        """
        if subcommand == 'fit':
            self._check_checkpoint_folders()
        ckpt_path = self.config_init[subcommand].get('ckpt_path')
        if ckpt_path == 'last':
            connector = self.trainer._checkpoint_connector
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                found = connector._select_ckpt_path(
                    TrainerFn(subcommand),
                    'last',
                    model_provided=True,
                    model_connected=False,
                )
            if found is None:
                folders = [
                    str(getattr(callback, 'dirpath', None) or self.trainer.default_root_dir)
                    for callback in self.trainer.checkpoint_callbacks
                ]
                where = ', '.join(folders) if folders else 'no checkpoint callback is configured'
                raise CheckpointError(
                    Path(folders[0]) if folders else Path(self.trainer.default_root_dir),
                    f'--ckpt_path last: no last checkpoint found (looked in: {where}). Start '
                    'the first run without --ckpt_path, or check the checkpoint folder '
                    '(ModelCheckpoint save_last: true)',
                )
        super()._run_subcommand(subcommand)

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


def _bad_setting(key: str, value: Any) -> str | None:
    """Why a config value cannot work (None when it can)."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if key == 'batch_size' and number and value < 1:
        return f'must be at least 1, got {value!r}'
    if key == 'num_workers' and number and value < 0:
        return f'must be >= 0, got {value!r}'
    if key in ('lr', 'learning_rate') and number and not (value >= 0 and value < float('inf')):
        return f'must be a finite number >= 0, got {value!r}'
    return None


def run_lightning_cli(argv: Sequence[str]) -> int:
    """Run a Lightning subcommand.

    Args:
        argv: ``[subcommand, *options]``, e.g. ``['fit', '--config', 'configs/rn50.yaml']``.

    Returns:
        The exit code: 0 on success, 1 on a bad input file (a checkpoint, a corpus: the message
        names it), 143 when stopped by SIGTERM (after the checkpoint is written); argument
        errors return the parser's code.
    """
    try:
        check_config_arguments(argv)
    except InputError as error:
        print(f'rs-vlm: error: {error}', file=sys.stderr)
        return 2
    # Importing registers the package's small model configs with open_clip, so configs that
    # name them (e.g. as a datamodule tokenizer) resolve before the model is built.
    import rs_vlm.models  # noqa: F401

    command = argv[0] if argv else 'fit'
    try:
        with warnings.catch_warnings():
            # The arguments always come from our own command line; Lightning warns about
            # passing them as `args` while sys.argv is set, which is the point of this wrapper.
            warnings.filterwarnings('ignore', message=r"LightningCLI's args parameter")
            RSVLMLightningCLI(args=list(argv), run=True)
    except SIGTERMException:
        # Pre-emption: PreemptionCheckpoint saved the state; a non-zero code stops
        # `rs-vlm fit && rs-vlm export` from exporting a partial model.
        print(
            f'rs-vlm {command}: stopped by SIGTERM after saving a checkpoint; resume with '
            '--ckpt_path last',
            file=sys.stderr,
        )
        return SIGTERM_EXIT_CODE
    except SystemExit as exit_:
        code = exit_.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    except (InputError, ConfigError, NonFiniteLossError, SkippedBatchesError) as error:
        print(f'rs-vlm {command}: error: {error}', file=sys.stderr)
        return 1
    except OSError as error:
        if error.filename is None:
            raise
        # A file the run could not write or read (full disk, read-only folder): the message
        # names it; a traceback adds nothing.
        print(f'rs-vlm {command}: error: {error}', file=sys.stderr)
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
