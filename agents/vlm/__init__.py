"""Vision-language-model agents and their SFT / GRPO training (transformers + TRL).

Importing this package is cheap; transformers and TRL load when a model or trainer is built.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HFVLMAgent", "VLMLoadError", "build_tiny_qwen2vl", "load_tiny_qwen2vl"]


def __getattr__(name: str) -> Any:
    if name == "HFVLMAgent":
        from roboref.agents.vlm.hf_agent import HFVLMAgent

        return HFVLMAgent
    if name == "VLMLoadError":
        from roboref.agents.vlm.load import VLMLoadError

        return VLMLoadError
    if name in ("build_tiny_qwen2vl", "load_tiny_qwen2vl"):
        from roboref.agents.vlm import tiny

        return getattr(tiny, name)
    raise AttributeError(f"module 'roboref.agents.vlm' has no attribute {name!r}")
