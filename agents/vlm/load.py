"""Load an image-text-to-text model and its processor, offline-first, with errors that say what
to do. ``AutoModelForImageTextToText`` / ``AutoProcessor`` cover Qwen2-VL, Qwen2.5-VL, Qwen3-VL,
LLaVA, Idefics, PaliGemma, Gemma 3, … A Qwen2-VL processor saved without a video processor
(``tiny.py``, no torchvision) loads as a bare tokenizer through ``AutoProcessor``; it is rebuilt
in code here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

#: Qwen2-VL-style processors that ``tiny.load_tiny_processor`` can rebuild from a saved directory.
QWEN_VL_TYPES = ("qwen2_vl", "qwen2_5_vl")


class VLMLoadError(ValueError):
    """A model or processor that cannot be loaded, with the reason and the fix."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype = "auto", device: torch.device | None = None) -> torch.dtype:
    """``auto`` → bfloat16 on a GPU that has it, float32 elsewhere (CPU half precision is slow)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        if device is not None and device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    names = {
        "float32": torch.float32,
        "fp32": torch.float32,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
        "float16": torch.float16,
        "fp16": torch.float16,
    }
    if dtype not in names:
        raise ValueError(f"unknown dtype {dtype!r}; use auto, {', '.join(names)}")
    return names[dtype]


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _looks_like_path(name: str) -> bool:
    """Hub ids are ``name`` or ``owner/name``; anything else is meant as a path."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def _not_available(name: str, why: str) -> VLMLoadError:
    return VLMLoadError(
        f"model {name!r}: {why}. The weights are not available offline: it is not a local directory "
        "and not in the Hugging Face cache. On a machine with network, download it "
        f"(`huggingface-cli download {name} --local-dir DIR`, or run once without HF_HUB_OFFLINE=1) "
        "and pass the local directory, HFVLMAgent('DIR'). For a test model without any download: "
        "roboref.agents.vlm.tiny.build_tiny_qwen2vl('DIR')."
    )


def check_source(name_or_path: str | Path) -> tuple[str, bool]:
    """``(name, is_local_dir)``; raises ``VLMLoadError`` for a path that is not a model directory."""
    name = str(name_or_path)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise VLMLoadError(
                f"{path} is a directory but has no config.json: not a saved transformers model "
                "(save one with model.save_pretrained(DIR) and processor.save_pretrained(DIR))"
            )
        return str(path), True
    if path.exists():
        raise VLMLoadError(f"{path} is a file; pass the model's directory (with config.json)")
    if _looks_like_path(name):
        raise VLMLoadError(
            f"no model directory at {path}: the path does not exist. Pass a directory written by "
            "save_pretrained (e.g. one made with roboref.agents.vlm.tiny.build_tiny_qwen2vl(DIR)), "
            "or a hub id such as Qwen/Qwen2-VL-2B-Instruct whose weights are in the local cache"
        )
    return name, False


def locate(name_or_path: str | Path, local_files_only: bool | None = None) -> tuple[str, bool]:
    """``(what to pass to from_pretrained, is_local)``: a local directory as is; a hub id as its
    cached snapshot directory when it is in the HF cache (no network at all: transformers still
    asks the hub about optional files of a cached repo, with retries), else the hub id itself,
    or ``VLMLoadError`` when offline (``HF_HUB_OFFLINE=1`` or ``local_files_only``)."""
    name, local = check_source(name_or_path)
    if local:
        return name, True
    try:
        return _cached_snapshot(name), True
    except Exception as err:  # huggingface_hub's LocalEntryNotFoundError and friends
        offline = _offline() if local_files_only is None else local_files_only
        if offline:
            raise _not_available(name, f"not in the local cache ({type(err).__name__})") from err
    return name, False


def load_model(
    name_or_path: str | Path,
    device: torch.device,
    dtype: torch.dtype,
    trust_remote_code: bool = False,
    local_files_only: bool | None = None,
):
    """``AutoModelForImageTextToText.from_pretrained`` with clear errors."""
    from transformers import AutoConfig, AutoModelForImageTextToText

    name, local = locate(name_or_path, local_files_only)
    try:
        config = AutoConfig.from_pretrained(name, trust_remote_code=trust_remote_code, local_files_only=local)
    except (OSError, ValueError) as err:
        if local:
            raise VLMLoadError(f"cannot read the model config in {name}: {err}") from err
        raise _not_available(name, f"{type(err).__name__}: {str(err).splitlines()[0]}") from err
    try:
        model = AutoModelForImageTextToText.from_pretrained(
            name,
            config=config,
            dtype=dtype,
            trust_remote_code=trust_remote_code,
            local_files_only=local,
        )
    except ValueError as err:
        if "Unrecognized configuration class" in str(err) or "not supported" in str(err):
            raise VLMLoadError(
                f"{name} is a {config.model_type!r} model, which AutoModelForImageTextToText does not "
                "load: HFVLMAgent needs an image-text-to-text model (Qwen2-VL, Qwen2.5-VL, LLaVA, "
                "Idefics3, PaliGemma, Gemma 3, …); a text-only model cannot see the image"
            ) from err
        raise
    except OSError as err:
        if local:
            raise VLMLoadError(f"cannot load the weights in {name}: {err}") from err
        raise _not_available(name, f"{type(err).__name__}: {str(err).splitlines()[0]}") from err
    return model.to(device).eval()


def load_processor(
    name_or_path: str | Path,
    model_type: str = "",
    trust_remote_code: bool = False,
    local_files_only: bool | None = None,
):
    """``AutoProcessor.from_pretrained``, or the Qwen2-VL processor rebuilt in code when
    ``AutoProcessor`` gives back only a tokenizer (a processor saved without torchvision)."""
    from transformers import AutoProcessor

    name, local = locate(name_or_path, local_files_only)
    proc: Any = None
    error: Exception | None = None
    try:
        proc = AutoProcessor.from_pretrained(name, trust_remote_code=trust_remote_code, local_files_only=local)
    except (OSError, ValueError, ImportError, AttributeError, TypeError) as err:  # e.g. no torchvision
        error = err
    if proc is not None and getattr(proc, "image_processor", None) is not None:
        return proc
    if model_type in QWEN_VL_TYPES and local:
        from roboref.agents.vlm.tiny import load_tiny_processor

        try:
            return load_tiny_processor(name)
        except (OSError, ValueError) as err:
            error = err
    got = type(proc).__name__ if proc is not None else f"{type(error).__name__}: {error}"
    raise VLMLoadError(
        f"no image processor for {name} (AutoProcessor gave {got}): HFVLMAgent needs a multimodal "
        "processor (images + text). Pass one with HFVLMAgent(..., processor=...)"
    )


def _cached_snapshot(name: str) -> str:
    """The local directory of a hub id's cached files (no network)."""
    from huggingface_hub import snapshot_download

    return snapshot_download(name, local_files_only=True)


def check_processor(processor: Any) -> None:
    """A processor must take images and text and have a chat template."""
    if getattr(processor, "image_processor", None) is None or getattr(processor, "tokenizer", None) is None:
        raise VLMLoadError(
            f"processor {type(processor).__name__} has no image processor and tokenizer: pass a "
            "multimodal processor such as Qwen2VLProcessor (AutoProcessor of an image-text model)"
        )
    if not getattr(processor, "chat_template", None) and not getattr(processor.tokenizer, "chat_template", None):
        raise VLMLoadError(f"processor {type(processor).__name__} has no chat template")
