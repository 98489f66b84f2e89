"""``HFVLMAgent``: any transformers image-text-to-text model as a roboref agent.

The observation's RGB image (and, with ``depth_image=True``, its depth as a colour image) goes in
with the instruction and RoboRefer's answer suffix; the model's text comes out and is parsed with
``roboref.rewards.format.parse_answer``, the parser the rewards use. Text that does not parse
gives ``AgentOutput(point=None, text=...)``: a bad answer is a result to score, not an error.
An observation without depth (``None`` or all zeros) gets the RGB-only prompt (one image, no
depth note) even with ``depth_image=True``; an answer-format suffix already on the instruction
(RefSpatial-Bench's) is replaced by the model's own, not repeated (``prompts.prompt_text``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from roboref.agents.base import AgentOutput, BaseAgent
from roboref.agents.inputs import observed_depth
from roboref.agents.vlm.depth import colorize_depth
from roboref.agents.vlm.load import (
    check_processor,
    load_model,
    load_processor,
    resolve_device,
    resolve_dtype,
)
from roboref.agents.vlm.prompts import prompt_messages
from roboref.rewards.format import parse_answer


class HFVLMAgent(BaseAgent):
    """Point with a vision-language model.

    ``model_name_or_path``: a local directory written by ``save_pretrained``, a hub id whose
    weights are in the local cache (nothing is downloaded with ``HF_HUB_OFFLINE=1``), or an
    already-built model (then pass ``processor``). ``device``/``dtype`` ``auto``: CUDA + bfloat16
    when there is a GPU, else CPU + float32. ``reasoning=True`` asks for ``<think>`` steps;
    ``do_sample=True`` samples with ``temperature`` (seeded by ``seed``) instead of greedy decoding.
    """

    def __init__(
        self,
        model_name_or_path: str | Path | Any,
        processor: Any = None,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "auto",
        max_new_tokens: int = 64,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_p: float = 1.0,
        reasoning: bool = False,
        depth_image: bool = False,
        trust_remote_code: bool = False,
        seed: int | None = None,
        batch_size: int = 8,
    ):
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        if isinstance(model_name_or_path, str | Path):
            self.name = str(model_name_or_path)
            self.model = load_model(model_name_or_path, self.device, self.dtype, trust_remote_code)
            if processor is None:
                processor = load_processor(model_name_or_path, self.model.config.model_type, trust_remote_code)
        else:
            self.name = (
                getattr(getattr(model_name_or_path, "config", None), "_name_or_path", "")
                or type(model_name_or_path).__name__
            )
            self.model = model_name_or_path.to(self.device, self.dtype).eval()
            if processor is None:
                raise ValueError("HFVLMAgent(model, processor=None): pass the processor with a built model")
        check_processor(processor)
        processor.tokenizer.padding_side = "left"  # batched generation continues on the right
        if processor.tokenizer.pad_token is None:
            processor.tokenizer.pad_token = processor.tokenizer.eos_token
        self.processor = processor
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if do_sample and not temperature > 0:
            raise ValueError(f"sampling needs temperature > 0, got {temperature}")
        self.max_new_tokens = max_new_tokens
        self.do_sample = do_sample
        self.temperature = temperature
        self.top_p = top_p
        self.reasoning = reasoning
        self.depth_image = depth_image
        self.batch_size = max(1, batch_size)
        self.generator_seed = seed

    # --- inputs ------------------------------------------------------------------------------
    def _depth(self, observation: dict) -> np.ndarray | None:
        """The depth the model gets as a second image: None without ``depth_image`` or depth."""
        return observed_depth(observation) if self.depth_image else None

    def images(self, observation: dict) -> list[Image.Image]:
        """The pictures the model sees: RGB, and the colourized depth if asked for and observed."""
        images = [Image.fromarray(np.asarray(observation["rgb"], dtype=np.uint8))]
        depth = self._depth(observation)
        if depth is not None:
            images.append(Image.fromarray(colorize_depth(depth)))
        return images

    def prompt(self, observation: dict) -> str:
        with_depth = self._depth(observation) is not None
        messages = prompt_messages(str(observation["instruction"]), self.reasoning, with_depth)
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    # --- acting ------------------------------------------------------------------------------
    def act(self, observation: dict) -> AgentOutput:
        return self.act_batch([observation])[0]

    def act_batch(self, observations: Sequence[dict]) -> list[AgentOutput]:
        outputs: list[AgentOutput] = []
        for i in range(0, len(observations), self.batch_size):
            texts = self.generate(observations[i : i + self.batch_size])
            outputs.extend(self.parse(t) for t in texts)
        return outputs

    @torch.inference_mode()
    def generate(self, observations: Sequence[dict]) -> list[str]:
        """The model's raw answer texts (special tokens removed) for a batch of observations."""
        if not observations:
            return []
        prompts = [self.prompt(o) for o in observations]
        images = [self.images(o) for o in observations]
        inputs = self.processor(text=prompts, images=images, return_tensors="pt", padding=True)
        inputs = {
            k: (v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device))
            for k, v in inputs.items()
            if isinstance(v, torch.Tensor)
        }
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": self.do_sample}
        if self.do_sample:
            kwargs.update(temperature=self.temperature, top_p=self.top_p)
            if self.generator_seed is not None:
                torch.manual_seed(self.generator_seed)
        else:  # greedy: clear sampling defaults a hub generation_config may carry
            kwargs.update(temperature=None, top_p=None, top_k=None)
        tok = self.processor.tokenizer
        kwargs["pad_token_id"] = tok.pad_token_id
        image_token = getattr(self.model.config, "image_token_id", None)
        if image_token is not None:  # an image placeholder in the answer would break the next prompt
            kwargs["suppress_tokens"] = [int(image_token)]
        out = self.model.generate(**inputs, **kwargs)
        new = out[:, inputs["input_ids"].shape[1] :]
        return tok.batch_decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    @staticmethod
    def parse(text: str) -> AgentOutput:
        """Text → ``AgentOutput``: the first parsed point (None if none) and any reasoning steps."""
        parsed = parse_answer(text)
        point = parsed.points[0] if parsed.ok else None
        return AgentOutput(point=point, text=text, steps=tuple(parsed.steps))
