"""The CenterNet training loop: COCO-format data with the original augmentation, targets drawn on
the training device, Adam with the original step schedule, mixed precision, DDP under torchrun,
atomic checkpoints that resume exactly, a run directory and a final COCO evaluation.

    result = train(TrainConfig(train_images=..., train_ann=..., val_images=..., val_ann=...),
                   "runs/coco_dla")

Under ``torchrun --nproc_per_node N`` every process calls ``train`` with the same arguments; the
batch size is the global one. Each process normalises its loss over its own objects and DDP
averages the gradients, as the original's DataParallel ``ModelWithLoss`` does, so the result
equals single-process training on the global batch when every shard holds as many objects (and
with SyncBatchNorm, or a model without batch norm).
"""

import logging
import math
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from centernet_fast.data import CocoDetection, batch_targets, collate_detections
from centernet_fast.engine.checkpointing import (check_resume_path, describe,
                                                 final_checkpoint_path, last_checkpoint_path,
                                                 model_config, read_training_checkpoint,
                                                 restore_training_state, save_training_checkpoint)
from centernet_fast.engine.config import TrainConfig, TrainConfigError, amp_dtype, heads_for
from centernet_fast.engine.distributed import (DistInfo, cleanup_distributed, mean_over_processes,
                                               on_main_process, setup_distributed)
from centernet_fast.engine.evaluate import evaluate
from centernet_fast.engine.run_dir import RunDir, check_fresh_run
from centernet_fast.engine.schedule import epoch_batches, lr_lambda, seed_everything
from centernet_fast.models import ARCHITECTURES, CenterNetLoss, create_model
from centernet_fast.models.checkpoint import unwrap_model

logger = logging.getLogger("centernet_fast.engine")

#: Options that may differ between a run and its resumption without changing what is computed.
RESUMABLE_CHANGES = {"epochs", "num_workers", "eval_every", "checkpoint_every", "log_every",
                     "eval_batch_size", "device", "val_images", "val_ann"}


@dataclass(frozen=True)
class StepInfo:
    """Passed to ``train``'s ``callback`` after every optimiser step: the 0-based ``epoch``, the
    ``iteration`` count within it and the ``global_step`` count (both after the step)."""

    epoch: int
    iteration: int
    global_step: int


@dataclass
class TrainResult:
    """What a run produced: its directory, the final checkpoint, the steps taken, the last
    logged losses, the final metrics (None without a validation split), the trained model
    (unwrapped, on ``device``) and its ``model_config`` (the checkpoint's ``"config"``)."""

    run_dir: str
    checkpoint: str
    global_step: int
    losses: Dict[str, float]
    metrics: Optional[Dict[str, float]]
    model: nn.Module
    device: torch.device
    model_config: Dict[str, Any]


class _Run:
    """The state of one training process; ``train`` builds it, ``fit`` runs the epochs."""

    def __init__(self, config: TrainConfig, out_dir: str, info: DistInfo,
                 callback: Optional[Callable[[StepInfo], None]]):
        self.config, self.info, self.callback = config, info, callback
        self.device = info.device
        seed_everything(config.seed)
        self.train_set = CocoDetection(config.train_images, config.train_ann, train=True,
                                       input_size=config.input_size, augment=config.augment(),
                                       normalization=config.norm(), seed=config.seed)
        self.val_set = self._val_set()
        self.heads = heads_for(self.train_set.num_classes)
        self.head_conv = (ARCHITECTURES[config.arch].default_head_conv
                          if config.head_conv is None else config.head_conv)
        self.model = self._model()
        self.dtype = amp_dtype(config.amp, self.device)
        self.batch_per_process = config.batch_size // info.world_size
        self.sampler = DistributedSampler(self.train_set, num_replicas=info.world_size,
                                          rank=info.rank, shuffle=True, seed=config.seed,
                                          drop_last=True)
        self.iters_per_epoch = len(self.sampler) // self.batch_per_process
        if self.iters_per_epoch == 0:
            raise TrainConfigError(
                f"batch_size: {config.batch_size} is more than the {len(self.train_set)} "
                f"training images of {config.train_ann} can fill once per epoch")
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.base_lr)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(config, self.iters_per_epoch))
        self.scaler = torch.amp.GradScaler(self.device.type,
                                           enabled=self.dtype == torch.float16)
        self.criterion = CenterNetLoss()
        self.model_config = model_config(config, self.heads, self.head_conv,
                                         self.train_set.class_names, self.train_set.cat_ids)
        self.run_dir = RunDir(out_dir) if info.is_main else None
        self.out_dir = out_dir
        self.epoch = self.iteration = self.global_step = 0
        self.last_losses: Dict[str, float] = {}

    def _val_set(self) -> Optional[CocoDetection]:
        cfg = self.config
        if cfg.val_ann is None:
            return None
        val = CocoDetection(cfg.val_images, cfg.val_ann, train=False,
                            input_size=cfg.input_size, normalization=cfg.norm())
        if val.class_names != self.train_set.class_names:
            raise TrainConfigError(f"val_ann: the categories of {cfg.val_ann} "
                                   f"{val.class_names} differ from the training split's "
                                   f"{self.train_set.class_names}")
        return val

    def _model(self) -> nn.Module:
        cfg = self.config
        model = create_model(cfg.arch, self.heads, cfg.head_conv, cfg.pretrained_backbone)
        if cfg.sync_bn:
            if self.device.type != "cuda":
                raise TrainConfigError("sync_bn: PyTorch's SyncBatchNorm runs on CUDA GPUs only; "
                                       f"training here is on {self.device}")
            if self.info.distributed:
                model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        memory_format = torch.channels_last if cfg.channels_last else torch.preserve_format
        return model.to(self.device, memory_format=memory_format)

    def resume(self, checkpoint: Dict[str, Any], path: str) -> None:
        saved = checkpoint["config"].get("train", {})
        changed = sorted(k for k, v in self.config.to_dict().items()
                         if k not in RESUMABLE_CHANGES and saved.get(k, v) != v)
        if changed:
            logger.warning("resume: options differ from the checkpoint's run (%s); the "
                           "continuation will not match an uninterrupted run",
                           ", ".join(f"{k}: {saved.get(k)!r} -> {getattr(self.config, k)!r}"
                                     for k in changed))
        restore_training_state(checkpoint, model=self.model, optimizer=self.optimizer,
                               scheduler=self.scheduler, scaler=self.scaler)
        self.epoch, self.iteration = checkpoint["epoch"], checkpoint["iteration"]
        self.global_step = checkpoint["global_step"]
        if self.iteration >= self.iters_per_epoch:
            raise TrainConfigError(
                f"resume: {path} was taken after iteration {self.iteration} of epoch "
                f"{self.epoch + 1}, but an epoch now has {self.iters_per_epoch} iterations "
                "(batch size, dataset or number of processes changed); resume with the "
                "original ones")
        if self.run_dir is not None:
            self.run_dir.truncate_log(self.global_step)
        logger.info("resumed from %s at %s", path, describe(checkpoint))

    def save(self, path: str) -> None:
        """Writes a training checkpoint (rank 0); every rank first checks that the weights are
        finite (DDP keeps them equal, so all ranks agree), so that a blow-up between two log
        steps never replaces the last good checkpoint."""
        finite = torch.stack([torch.isfinite(p).all() for p in self.model.parameters()]).all()
        if not bool(finite):
            raise FloatingPointError(
                f"non-finite weights after step {self.global_step}; "
                f"{path} keeps the last good checkpoint. Lower the learning rate, add "
                "--warmup-iters or --grad-clip")
        on_main_process(self.info, lambda: save_training_checkpoint(
            path, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
            scaler=self.scaler, epoch=self.epoch, iteration=self.iteration,
            global_step=self.global_step, config=self.model_config), f"writing {path}")

    def fit(self) -> TrainResult:
        cfg = self.config
        if self.run_dir is not None:
            self.run_dir.write_config({"model": self.model_config, "world_size":
                                       self.info.world_size, "iters_per_epoch":
                                       self.iters_per_epoch})
        network = self._wrapped()
        while self.epoch < cfg.epochs:
            self._train_epoch(network)
            self.epoch, self.iteration = self.epoch + 1, 0
            self.save(last_checkpoint_path(self.out_dir))
            if self.run_dir is not None:
                self.run_dir.draw_loss_curve()
            if cfg.eval_every and self.epoch % cfg.eval_every == 0 and self.epoch < cfg.epochs:
                self.evaluate(f"{self.out_dir}/eval_epoch_{self.epoch:03d}")
        self.save(final_checkpoint_path(self.out_dir))
        metrics = self.evaluate(self.out_dir)
        return TrainResult(self.out_dir, final_checkpoint_path(self.out_dir), self.global_step,
                           self.last_losses, metrics, unwrap_model(self.model), self.device,
                           self.model_config)

    def _wrapped(self) -> nn.Module:
        network = self.model
        if self.info.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            network = nn.parallel.DistributedDataParallel(network, device_ids=ids)
        if self.config.compile:
            network = torch.compile(network)
        return network

    def _loader(self) -> DataLoader:
        self.train_set.set_epoch(self.epoch)  # before the workers copy the dataset
        self.sampler.set_epoch(self.epoch)
        batches = epoch_batches(self.sampler, self.batch_per_process, skip=self.iteration)
        return DataLoader(self.train_set, batch_sampler=batches,
                          num_workers=self.config.num_workers, collate_fn=collate_detections,
                          pin_memory=self.device.type == "cuda")

    def _train_epoch(self, network: nn.Module) -> None:
        cfg = self.config
        network.train()
        bar = tqdm(total=self.iters_per_epoch, initial=self.iteration, unit="it",
                   desc=f"epoch {self.epoch + 1}/{cfg.epochs}", dynamic_ncols=True,
                   disable=not (self.info.is_main and sys.stderr.isatty()))
        started = since = time.perf_counter()
        images, steps, sums = 0, 0, {}
        for batch in self._loader():
            lr = self.optimizer.param_groups[0]["lr"]  # this step's; the scheduler moves it on
            parts = self._step(network, batch)
            self.iteration += 1
            self.global_step += 1
            images, steps = images + cfg.batch_size, steps + 1
            sums = {k: sums.get(k, 0) + v for k, v in parts.items()}  # on the device: no sync
            bar.update(1)
            if self.global_step % cfg.log_every == 0 or self.iteration == self.iters_per_epoch:
                losses = mean_over_processes(parts, self.info)
                now = time.perf_counter()
                self._log(losses, lr, images / (now - since), bar)
                since, images = now, 0
            if self.callback is not None:
                self.callback(StepInfo(self.epoch, self.iteration, self.global_step))
            if (cfg.checkpoint_every and self.iteration % cfg.checkpoint_every == 0
                    and self.iteration < self.iters_per_epoch):
                self.save(last_checkpoint_path(self.out_dir))
        bar.close()
        means = mean_over_processes({k: v / steps for k, v in sums.items()}, self.info)
        seconds = time.perf_counter() - started
        if self.run_dir is not None:
            # Means over the steps this process ran in the epoch (after a resume: since then).
            self.run_dir.log({"event": "epoch", "epoch": self.epoch + 1,
                              "step": self.global_step, **means, "seconds": seconds})
            logger.info("epoch %d/%d done in %.0f s: mean %s", self.epoch + 1, cfg.epochs,
                        seconds, ", ".join(f"{k} {v:.4f}" for k, v in means.items()))

    def _step(self, network: nn.Module, batch) -> Dict[str, torch.Tensor]:
        """One optimiser step on one batch; returns the detached loss and its components."""
        cfg = self.config
        batch = batch.to(self.device, non_blocking=True)
        targets = batch_targets(batch, self.train_set.num_classes)  # drawn on the device
        images = batch.images
        if cfg.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None):
            outputs = network(images)
        # The loss reduces half-precision maps in float32 itself; outside autocast it stays so.
        loss, parts = self.criterion(outputs, targets)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if cfg.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        with warnings.catch_warnings():
            # Under fp16 the scaler skips the steps whose gradients overflowed (the first ones,
            # while it finds its scale); the schedule counts them all the same.
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step", UserWarning)
            self.scheduler.step()
        return {"loss": loss.detach(), **parts}

    def _log(self, losses: Dict[str, float], lr: float, images_per_second: float,
             bar: tqdm) -> None:
        if not math.isfinite(losses["loss"]):
            raise FloatingPointError(
                f"the training loss is {losses['loss']} at step {self.global_step} (epoch "
                f"{self.epoch + 1}); lower the learning rate, add --warmup-iters or --grad-clip")
        self.last_losses = losses
        bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}
                        | {"lr": f"{lr:.2e}", "img/s": f"{images_per_second:.1f}"}, refresh=False)
        if self.run_dir is not None:
            self.run_dir.log({"event": "train", "epoch": self.epoch + 1,
                              "iter": self.iteration, "step": self.global_step, **losses,
                              "lr": lr, "img_per_s": images_per_second, "time": time.time()})
            if bar.disable:  # no progress bar: the log line is the progress report
                logger.info("epoch %d/%d, iteration %d/%d: %s, lr %.2e, %.1f img/s",
                            self.epoch + 1, self.config.epochs, self.iteration,
                            self.iters_per_epoch,
                            ", ".join(f"{k} {v:.4f}" for k, v in losses.items()), lr,
                            images_per_second)

    def evaluate(self, out_dir: str) -> Optional[Dict[str, float]]:
        """COCO evaluation of the model on the validation split, on the main process (the
        others wait); metrics.json and detections.json go to ``out_dir``."""
        if self.val_set is None:
            return None
        return on_main_process(self.info, lambda: self._evaluate_here(out_dir),
                               f"the evaluation into {out_dir}")

    def _evaluate_here(self, out_dir: str) -> Dict[str, float]:
        model = unwrap_model(self.model)
        metrics = evaluate(model, self.val_set, device=self.device,
                           batch_size=self.config.eval_batch_size,
                           num_workers=self.config.num_workers, amp_dtype=self.dtype,
                           out_dir=out_dir)
        model.train()
        self.run_dir.log({"event": "eval", "epoch": self.epoch, "step": self.global_step,
                          **metrics})
        logger.info("evaluation after epoch %d: %s", self.epoch,
                    ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        return metrics


def train(config: TrainConfig, out_dir: str, *, resume: Optional[str] = None,
          callback: Optional[Callable[[StepInfo], None]] = None) -> TrainResult:
    """Trains a CenterNet detector as ``config`` says, writing the run directory ``out_dir``.

    Args:
        config: the run's options (checked first: ``TrainConfigError`` names a bad one).
        out_dir: the run directory (see ``engine.run_dir``); written by rank 0 only.
        resume: a training checkpoint (``out_dir/checkpoints/last.pth`` of a killed run) to
            continue from: model, optimiser, scheduler, scaler and random states, at the epoch
            and iteration it was taken. With the same config (CPU, 0 workers) the continuation
            computes exactly the losses the uninterrupted run would have.
        callback: called with a ``StepInfo`` after every optimiser step, on every process.
    Returns:
        TrainResult; ``metrics`` are the final COCO figures of the validation split (AP, AP50,
        AP75, APs, APm, APl) from ``engine.evaluate.evaluate``, also in ``out_dir/metrics.json``.
    Raises:
        TrainConfigError, data.DatasetError, models.CheckpointError, FileNotFoundError: bad
            options, data or checkpoints, before any training step.
        FileExistsError: ``out_dir`` holds a run already and ``resume`` is None.
        FloatingPointError: a non-finite loss.
    """
    info = setup_distributed(config.device)
    try:
        check_run(config, out_dir, resume, info.world_size)
        return train_checked(config, out_dir, info, resume=resume, callback=callback)
    finally:
        cleanup_distributed(info)


def check_run(config: TrainConfig, out_dir: str, resume: Optional[str], world_size: int, *,
              with_data: bool = True) -> None:
    """The checks before a run writes anything: every option (the dataset paths too unless
    ``with_data`` is False, for a job that writes its dataset after this), that ``out_dir``
    holds no other run, and that ``resume`` names a file. Raises as ``train`` documents."""
    if with_data:
        config.validate_data()
    config.validate_options(world_size)
    check_fresh_run(out_dir, resume)
    if resume is not None:
        check_resume_path(resume)


def train_checked(config: TrainConfig, out_dir: str, info: DistInfo, *,
                  resume: Optional[str] = None,
                  callback: Optional[Callable[[StepInfo], None]] = None) -> TrainResult:
    """``train`` after ``check_run``, in the process group of ``info`` (``setup_distributed``)."""
    checkpoint = read_training_checkpoint(resume) if resume is not None else None
    run = _Run(config, out_dir, info, callback)
    if checkpoint is not None:
        run.resume(checkpoint, resume)
    return run.fit()

