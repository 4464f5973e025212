# SPDX-License-Identifier: Apache-2.0
"""The OCRNet experiment spec: the single source of truth for keys, defaults, bounds and docs.

Key names and defaults follow TAO OCRNet (`default_config.py`); where the reference is wrong or
unbounded, the fix is noted next to the field (see SKILL.md "Differences from the reference").
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from tao_ocrnet.config.backbones import BACKBONE_NAMES
from tao_ocrnet.config.fields import MISSING, field, normalise_choices


class Section(BaseModel):
    """A spec section: unknown keys are errors, values are re-validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _canonical_choices(cls, data: Any) -> Any:
        return normalise_choices(cls, data)


def _str_to_list(value: Any) -> Any:
    # A single folder given as a string is taken as a one-element list (the reference's own
    # templates wrote `cal_image_dir` that way).
    if isinstance(value, str):
        return [] if value in ("", MISSING) else [value]
    return value


# --- shared sections -------------------------------------------------------------------------


class WandbConfig(Section):
    enable: bool = field(True, "Log to Weights & Biases when the wandb package is installed and logged in.")
    project: str = field("TAO Toolkit", "W&B project name.")
    entity: str = field("", "W&B entity (team or user).")
    tags: list[str] = field(["tao-toolkit"], "W&B run tags.", automl=False)
    reinit: bool = field(False, "Allow wandb.init to be called more than once in a process.")
    sync_tensorboard: bool = field(False, "Sync TensorBoard logs to W&B.")
    save_code: bool = field(False, "Save the main script to W&B.")
    name: str = field("TAO Toolkit Training", "W&B run name.")
    run_id: str = field("", "W&B run id to resume.")
    group: str = field("", "W&B run group.")


class ModelConfig(Section):
    TPS: bool = field(False, "Put a thin-plate-spline (RARE) rectification stage before the backbone.")
    num_fiducial: int = field(20, "Number of TPS fiducial points (even; used only with TPS).", ge=4, le=100)
    backbone: Literal[BACKBONE_NAMES] = field(  # type: ignore[valid-type]  # the registry's names, at import
        "ResNet", "Feature extractor. FAN_tiny_2X needs input height and width divisible by 8."
    )
    feature_channel: int = field(
        512, "Output channels of the backbone: a multiple of 16 (forced to 192 for FAN_tiny_2X).", ge=16, le=4096
    )
    sequence: Literal["BiLSTM"] = field("BiLSTM", "Sequence model: two stacked bidirectional LSTMs.")
    hidden_size: int = field(256, "Hidden size of the BiLSTM and attention decoder.", ge=4, le=4096)
    prediction: Literal["CTC", "Attn"] = field("CTC", "Decoder: CTC or attention.")
    quantize: bool = field(False, "Quantization-aware training (QAT) during train.")
    input_width: int = field(100, "Input image width in pixels.", ge=8, le=4096)
    input_height: int = field(32, "Input image height in pixels.", ge=8, le=1024)
    input_channel: int = field(1, "Input channels: 1 (grayscale) or 3 (RGB).", ge=1, le=3)
    pruned_graph_path: str = field("", "Pruned model file from `prune`; setting it makes `train` a retrain.")
    quantize_model_path: str = field("", "Unused by the reference; accepted and ignored with a warning.")

    @field_validator("num_fiducial")
    @classmethod
    def _even_fiducials(cls, value: int) -> int:
        if value % 2:
            raise ValueError("must be even (the TPS points are split between the top and bottom edge)")
        return value

    @field_validator("input_channel")
    @classmethod
    def _gray_or_rgb(cls, value: int) -> int:
        if value not in (1, 3):
            raise ValueError("must be 1 (grayscale) or 3 (RGB)")
        return value


class AugmentationConfig(Section):
    keep_aspect_ratio: bool = field(
        False, "Resize to the input height keeping the aspect ratio, then pad on the right."
    )
    aug_prob: float = field(
        0.0,
        "Probability of applying the augmentation chain to a training image (0 = off).",
        ge=0.0,
        le=1.0,
        automl=True,
    )
    reverse_color_prob: float = field(
        0.5, "Probability of inverting colours within the chain.", ge=0.0, le=1.0, automl=True
    )
    rotate_prob: float = field(0.5, "Probability of a small rotation within the chain.", ge=0.0, le=1.0, automl=True)
    max_rotation_degree: int = field(5, "Largest rotation in degrees.", ge=0, le=360)
    blur_prob: float = field(0.5, "Probability of a Gaussian blur within the chain.", ge=0.0, le=1.0, automl=True)
    gaussian_radius_list: list[int] = field(
        [1, 2, 3, 4], "Gaussian blur radii to pick from.", automl=False, tao_type="list_2"
    )


class QuantCalibrationDatasetConfig(Section):
    images_dir: str = field("", "Folder of calibration images for static post-training quantization.")


class DatasetConfig(Section):
    train_dataset_dir: list[str] = field(
        [],
        "Training data folders (LMDB folders holding data.mdb, or one raw image folder with "
        "train_gt_file); every folder is used.",
        automl=False,
    )
    train_gt_file: str = field("", "Ground-truth file for a raw-image training folder (empty = LMDB).")
    val_dataset_dir: str = field("", "Validation data folder (LMDB, or raw images with val_gt_file).")
    val_gt_file: str = field("", "Ground-truth file for a raw-image validation folder (empty = LMDB).")
    character_list_file: str = field("", "Character list: one character per line; its order is the class order.")
    max_label_length: int = field(25, "Longest label; longer samples are skipped and counted.", ge=1, le=256)
    batch_size: int = field(16, "Training batch size per device.", ge=1, le=4096)
    workers: int = field(8, "Data-loading worker processes per device (0 = load in the main process).", ge=0, le=64)
    augmentation: AugmentationConfig = field(AugmentationConfig(), "Training augmentation.")
    quant_calibration_dataset: QuantCalibrationDatasetConfig = field(
        QuantCalibrationDatasetConfig(), "Calibration data for post-training quantization."
    )

    _one_dir_is_a_list = field_validator("train_dataset_dir", mode="before")(_str_to_list)


class CudnnConfig(Section):
    benchmark: bool = field(False, "Let cuDNN pick the fastest kernels (non-deterministic).")
    deterministic: bool = field(True, "Ask for deterministic kernels.")


class OptimConfig(Section):
    name: Literal["adadelta", "adam"] = field("adadelta", "Optimizer.")
    lr: float = field(1.0, "Learning rate (Adadelta ~0.05-1.0, Adam ~1e-5-1e-3).", gt=0.0, le=10.0, automl=True)
    momentum: float = field(0.9, "Adam beta1.", ge=0.0, lt=1.0)
    weight_decay: float = field(5e-4, "Weight decay (L2).", ge=0.0, le=1.0)
    lr_scheduler: Literal["MultiStep", "AutoReduce"] = field(
        "MultiStep", "MultiStep: multiply by lr_decay at lr_steps epochs. AutoReduce: on plateau of lr_monitor."
    )
    lr_monitor: Literal["val_loss", "train_loss"] = field("val_loss", "Metric watched by AutoReduce.")
    patience: int = field(1, "AutoReduce: validations without improvement before reducing.", ge=0, le=1000)
    min_lr: float = field(1e-4, "AutoReduce: lowest learning rate.", ge=0.0, le=10.0)
    lr_steps: list[int] = field([15, 25], "MultiStep: epochs at which the learning rate decays.", automl=False)
    lr_decay: float = field(0.1, "Factor applied to the learning rate at each decay.", ge=0.0, le=1.0)


class TrainConfig(Section):
    num_gpus: int = field(
        1, "GPUs to train on (0 = CPU). Without CUDA, 1 falls back to the CPU.", ge=0, le=1024, popular=True
    )
    gpu_ids: list[int] = field([0], "GPU indices to use.", automl=False, popular=True)
    num_nodes: int = field(1, "Nodes for multi-node training.", ge=1, le=1024, popular=True)
    num_cpu_processes: int = field(
        1,
        "The CPU counterpart of num_gpus: training processes per node when no GPU is used (num_gpus=0, or no "
        "CUDA), each a DDP rank over gloo with an equal share of the cores. Ignored when GPUs are used.",
        ge=1,
        le=1024,
        automl=False,
    )
    distributed_timeout: int = field(
        600,
        "Seconds a rank waits for the others (start-up rendezvous, each collective) before the run fails, "
        "so that a dead or hung rank ends the run instead of stalling it.",
        ge=10,
        le=86400,
        automl=False,
    )
    seed: int = field(1234, "Random seed (-1 = no seeding).", ge=-1, le=2**31 - 1)
    cudnn: CudnnConfig = field(CudnnConfig(), "cuDNN settings.")
    num_epochs: int = field(10, "Training epochs.", ge=1, le=100000, popular=True)
    checkpoint_interval: int = field(1, "Save a checkpoint every N epochs (or steps).", ge=1, le=10**9, popular=True)
    checkpoint_interval_unit: Literal["epoch", "step"] = field("epoch", "Unit of checkpoint_interval.")
    validation_interval: int = field(1, "Validate every N epochs.", ge=1, le=100000, popular=True)
    resume_training_checkpoint_path: str = field(
        "", "Checkpoint to resume from (empty = the latest checkpoint in results_dir, if any)."
    )
    pretrained_model_path: str = field("", "Weights to start from (shape-matching tensors are copied).")
    results_dir: str = field("", "Where train writes (default <results_dir>/train).")
    clip_grad_norm: float = field(5.0, "Gradient clipping by norm (0 = off).", ge=0.0, le=1e6)
    distributed_strategy: Literal["ddp", "ddp_spawn", "fsdp", "auto"] = field(
        "ddp", "Lightning strategy on more than one device (auto: Lightning chooses; ddp_spawn is refused: use ddp)."
    )
    use_distributed_sampler: bool = field(
        True, "Shard data across ranks (reference default false made every rank read everything)."
    )
    model_ema: bool = field(False, "Keep an exponential moving average of the weights and validate it.")
    precision: Literal["fp32", "bf16", "fp16", "auto"] = field(
        "fp32",
        "Arithmetic of training: fp32; bf16 (mixed, needs bf16 instructions: recent Intel/Arm CPUs, Ampere+ GPUs); "
        "fp16 (mixed, CUDA only); auto (bf16 where the hardware has it, else fp32). Weights stay fp32.",
        automl=False,
    )
    channels_last: bool = field(
        False,
        "Train in the channels_last memory format (faster convolutions on some CPUs and GPUs, slower on others: "
        "measure with benchmarks/bench_precision.py). Saved weights are the usual layout.",
        automl=False,
    )
    optim: OptimConfig = field(OptimConfig(), "Optimizer and learning-rate schedule.")


class QuantizeConfig(Section):
    backend: Literal["torchao", "onnxruntime", "modelopt.pytorch", "modelopt.onnx"] = field(
        "torchao", "Quantization backend."
    )
    mode: Literal["weight_only_ptq", "static_ptq"] = field("weight_only_ptq", "Quantization mode.")
    algorithm: Literal["minmax", "max", "entropy", "awq_clip", "awq_lite", "awq_full", "rtn_dq"] = field(
        "minmax", "Calibration algorithm (ignored by torchao)."
    )
    layers: list[dict[str, Any]] = field(
        [], "Per-module rules: {module_name, weights: {dtype}, activations: {dtype}}.", automl=False
    )
    skip_names: list[str] = field([], "Module name patterns to leave unquantized.", automl=False)
    model_path: str = field("", "Model to quantize.")
    results_dir: str = field("", "Where quantize writes (default <results_dir>/quantize).")
    backend_kwargs: dict[str, Any] = field({}, "Extra backend options.")
    device: str = field(
        "cuda",
        "Device for quantization (cuda, cpu, trt, cuda:N); falls back to cpu without CUDA.",
        pattern=r"^(cuda|cpu|trt|cuda:[0-9]+)$",
    )


# --- action sections -------------------------------------------------------------------------


class _DevicesSection(Section):
    num_gpus: int = field(1, "GPUs to use (0 = CPU).", ge=0, le=1024, popular=True)
    gpu_ids: list[int] = field([0], "GPU indices to use.", automl=False, popular=True)
    num_nodes: int = field(1, "Nodes to use.", ge=1, le=1024, popular=True)
    checkpoint: str = field(MISSING, "Model to run (.pth, or a pruned or quantized file).", missing=True)


class _DeployInputSection(Section):
    batch_size: int = field(1, "Batch size.", ge=1, le=4096)
    input_width: int = field(100, "Input width (deploy only; PyTorch uses model.input_width).", ge=8, le=4096)
    input_height: int = field(32, "Input height (deploy only; PyTorch uses model.input_height).", ge=8, le=1024)


class EvaluateConfig(_DeployInputSection, _DevicesSection):
    trt_engine: str = field("", "TensorRT engine or ONNX file (deploy evaluate).")
    results_dir: str = field("", "Where evaluate writes (default <results_dir>/evaluate).")
    test_dataset_dir: str = field(
        MISSING, "Test data folder (LMDB, or raw images with test_dataset_gt_file).", missing=True
    )
    test_dataset_gt_file: str = field("", "Ground-truth file for a raw-image test folder (empty = LMDB).")


class InferenceConfig(_DeployInputSection, _DevicesSection):
    # Not `???` (required) as in the reference: unset reads with the shipped model.
    checkpoint: str = field(
        "", "Model to run (.pth, pruned or quantized file, or a shipped model name; empty = ocrnet_cpu_small)."
    )
    trt_engine: str = field("", "TensorRT engine or ONNX file (deploy inference).")
    results_dir: str = field("", "Where inference writes (default <results_dir>/inference).")
    inference_dataset_dir: str = field(MISSING, "Folder of images (searched recursively).", missing=True)


class ExportConfig(Section):
    checkpoint: str = field(MISSING, "Model to export.", missing=True)
    gpu_id: int = field(0, "GPU index to export on (CPU when CUDA is absent).", ge=0, le=1024)
    onnx_file: str = field("", "Output ONNX path (default <results_dir>/<checkpoint stem>.onnx).")
    results_dir: str = field("", "Where export writes (default <results_dir>/export).")


class PruneSettingConfig(Section):
    mode: Literal["amount", "threshold", "experimental_hybrid"] = field("amount", "Pruning mode.")
    amount: float = field(0.4, "Fraction of filters to remove per coupled group.", ge=0.0, le=1.0)
    threshold: float | None = field(None, "Normalised-norm threshold (threshold mode).", ge=0.0, le=1.0)
    granularity: int = field(8, "Kept channel counts are multiples of this.", ge=1, le=1024)
    raw_prune_score: Literal["L1", "L2"] = field("L1", "Filter norm used to rank filters.")


class PruneConfig(Section):
    checkpoint: str = field(MISSING, "Model to prune.", missing=True)
    gpu_id: int = field(0, "GPU index (CPU when CUDA is absent).", ge=0, le=1024)
    pruned_file: str = field("", "Output path (default <results_dir>/pruned_<checkpoint stem>.pth).")
    results_dir: str = field("", "Where prune writes (default <results_dir>/prune).")
    prune_setting: PruneSettingConfig = field(PruneSettingConfig(), "Pruning settings.")


class DatasetConvertConfig(Section):
    input_img_dir: str = field(MISSING, "Folder of images the gt file's paths are relative to.", missing=True)
    gt_file: str = field(MISSING, "Ground truth: one `relative/path<TAB>label` per line.", missing=True)
    results_dir: str = field("", "LMDB output folder (default <results_dir>/dataset_convert/lmdb).")


class CalibrationConfig(Section):
    _one_dir_is_a_list = field_validator("cal_image_dir", mode="before")(_str_to_list)

    cal_image_dir: list[str] = field(
        [],
        "Folders of calibration images (searched recursively); required for INT8.",
        automl=False,
        popular=False,
    )
    cal_cache_file: str = field("", "INT8 calibration cache; reused when it exists (default beside the engine).")
    cal_batch_size: int = field(1, "Calibration batch size.", ge=1, le=4096, popular=True)
    cal_batches: int = field(1, "Calibration batches.", ge=1, le=100000, popular=True)


class TensorRTConfig(Section):
    data_type: Literal["FP32", "FP16", "INT8"] = field("FP32", "Engine precision.")
    workspace_size: int = field(1024, "Builder workspace in MiB.", ge=0, le=1048576)
    min_batch_size: int = field(1, "Optimization profile: smallest batch.", ge=1, le=4096, popular=True)
    opt_batch_size: int = field(1, "Optimization profile: batch to tune for.", ge=1, le=4096, popular=True)
    max_batch_size: int = field(1, "Optimization profile: largest batch.", ge=1, le=4096, popular=True)
    layers_precision: list[str] = field([], "Per-layer precision, `layer_name:fp16`.", automl=False)
    calibration: CalibrationConfig = field(CalibrationConfig(), "INT8 calibration.")


class GenTrtEngineConfig(Section):
    results_dir: str = field("", "Where gen_trt_engine writes (default <results_dir>/gen_trt_engine).")
    gpu_id: int = field(0, "GPU index.", ge=0, le=1024, popular=True)
    onnx_file: str = field(MISSING, "ONNX file from export.", missing=True)
    trt_engine: str = field("", "Output engine path (default <results_dir>/<onnx stem>.engine).")
    timing_cache: str = field("", "TensorRT timing cache file; loaded if present, updated after the build.")
    batch_size: int = field(-1, "Fixed batch (-1 = dynamic, from the profile).", ge=-1, le=4096, popular=True)
    verbose: bool = field(False, "Verbose TensorRT logging.")
    tensorrt: TensorRTConfig = field(TensorRTConfig(), "TensorRT builder settings.")


# --- the experiment --------------------------------------------------------------------------


class ExperimentSpec(Section):
    model_name: str = field("", "Model name (empty = ocrnet).")
    encryption_key: str = field("", "Key for encrypted (.tlt) files. Treated as a secret.", secret=True)
    results_dir: str = field("", "Root results folder; each action writes to <results_dir>/<action>.")
    wandb: WandbConfig = field(WandbConfig(), "Weights & Biases logging.")
    model: ModelConfig = field(ModelConfig(), "Network architecture.")
    dataset: DatasetConfig = field(DatasetConfig(), "Datasets and augmentation.")
    train: TrainConfig = field(TrainConfig(), "Training.")
    evaluate: EvaluateConfig = field(EvaluateConfig(), "Evaluation.")
    inference: InferenceConfig = field(InferenceConfig(), "Inference.")
    export: ExportConfig = field(ExportConfig(), "ONNX export.")
    prune: PruneConfig = field(PruneConfig(), "Structured channel pruning.")
    dataset_convert: DatasetConvertConfig = field(DatasetConvertConfig(), "Images + gt file to LMDB.")
    gen_trt_engine: GenTrtEngineConfig = field(GenTrtEngineConfig(), "TensorRT engine generation.")
    quantize: QuantizeConfig = field(QuantizeConfig(), "Post-training quantization.")
