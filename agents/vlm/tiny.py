"""A tiny Qwen2-VL built from a config, with a byte-level BPE tokenizer trained in code.

No weights can be downloaded on a CPU test machine, so tests and CPU smoke runs of the VLM agent
and trainers use this (~0.2 M parameters, random weights). It has the real architecture,
processor and chat template of Qwen2-VL, so code that works on it works on ``Qwen/Qwen2-VL-2B``.
The processor is built without a video processor (no torchvision here); ``AutoProcessor`` loads
such a saved processor as a bare tokenizer, so ``load_tiny_processor`` rebuilds it in code.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    PreTrainedTokenizerFast,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    Qwen2VLProcessor,
)
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

#: Qwen2-VL's special tokens, in the order their ids are assigned after the BPE vocabulary.
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
#: Plain-text tags of the RoboRefer answer layout, kept as whole tokens (not special: they decode).
TAG_TOKENS = ("<think>", "</think>", "<answer>", "</answer>")

#: Qwen2-VL's chat template (images and text parts; no video, no tools).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = (
    "Point to the red mug left of the blue bowl.",
    "Point to the free space behind the green box and in front of the white cup.",
    "Please answer with a list of points [(x, y)] normalized to [0, 1], e.g. [(0.412, 0.637)].",
    "<think>[Position] red bowl: (0.412, 0.637)\n[Depth] red bowl: 0.840 m\n"
    "[Distance] mug -> red bowl: 0.230 m</think><answer>[(0.412, 0.637)]</answer>",
    "[Size] box: (0.100, 0.080, 0.060) m [Orientation] mug: (0.707, -0.707)",
    "cup jar marker bottle can bowl plate box ball block book banana apple fork spoon",
    "yellow orange purple cyan black grey brown pink closest farthest leftmost rightmost",
    "0 1 2 3 4 5 6 7 8 9 0.0 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1.0 ( ) [ ] , . : ->",
    "You are a helpful assistant. system user assistant",
)


def train_tokenizer(vocab_size: int = 512, corpus: tuple[str, ...] = _CORPUS) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (every string encodes) with Qwen2-VL's special tokens."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tok.train_from_iterator(list(corpus) * 4, trainer=trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAG_TOKENS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=4096,
    )
    fast.padding_side = "left"
    fast.chat_template = CHAT_TEMPLATE
    return fast


class TinyQwen2VLProcessor(Qwen2VLProcessor):
    """``Qwen2VLProcessor`` without a video processor: its base class insists on one, which needs
    torchvision; pointing needs images only."""

    # The sub-processors are read from this signature: no ``video_processor`` argument, no video.
    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    @classmethod
    def from_pretrained(cls, path, **kwargs) -> TinyQwen2VLProcessor:  # type: ignore[override]
        return load_tiny_processor(path)


def image_processor(max_pixels: int = 224 * 224) -> Qwen2VLImageProcessorPil:
    """The PIL image processor (no torchvision); ``max_pixels`` caps the image tokens
    (224² → 64 tokens after the 2×2 merge)."""
    return Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=max_pixels)


def tiny_config(vocab_size: int, tokenizer: PreTrainedTokenizerFast) -> Qwen2VLConfig:
    """FIELD_NOTES' tiny sizes: text 64-wide × 2 layers, vision 32-wide × 2 blocks."""
    ids = tokenizer.convert_tokens_to_ids
    text = {
        "vocab_size": vocab_size,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        # mrope sections (temporal, height, width) must add up to head_dim / 2 = 8
        "rope_parameters": {"rope_type": "default", "rope_theta": 1e4, "mrope_section": [2, 3, 3]},
        "bos_token_id": ids("<|endoftext|>"),
        "eos_token_id": ids("<|im_end|>"),
        "pad_token_id": ids("<|endoftext|>"),
    }
    vision = {
        "depth": 2,
        "embed_dim": 32,
        "hidden_size": 64,
        "num_heads": 2,
        "mlp_ratio": 2,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    return Qwen2VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )


def build_tiny_processor() -> TinyQwen2VLProcessor:
    tokenizer = train_tokenizer()
    return TinyQwen2VLProcessor(image_processor(), tokenizer, chat_template=CHAT_TEMPLATE)


def build_tiny_qwen2vl(
    out_dir: str | Path | None = None, seed: int = 0
) -> tuple[Qwen2VLForConditionalGeneration, TinyQwen2VLProcessor]:
    """``(model, processor)``: random weights from ``seed``; saved (safetensors) to ``out_dir`` if
    given, loadable with ``load_tiny_qwen2vl(out_dir)`` or ``HFVLMAgent(out_dir)``."""
    processor = build_tiny_processor()
    config = tiny_config(len(processor.tokenizer), processor.tokenizer)
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = config.text_config.pad_token_id
    model.generation_config.eos_token_id = config.text_config.eos_token_id
    if out_dir is not None:
        save_tiny(model, processor, out_dir)
    return model, processor


def save_tiny(model, processor, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    return out


def load_tiny_processor(path: str | Path) -> TinyQwen2VLProcessor:
    """Rebuild the processor from a saved directory (tokenizer + image processor files)."""
    path = Path(path)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(path)
    tokenizer.padding_side = "left"
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    img = Qwen2VLImageProcessorPil.from_pretrained(path)
    return TinyQwen2VLProcessor(img, tokenizer, chat_template=tokenizer.chat_template)


def load_tiny_qwen2vl(path: str | Path) -> tuple[Qwen2VLForConditionalGeneration, TinyQwen2VLProcessor]:
    model = Qwen2VLForConditionalGeneration.from_pretrained(path).eval()
    return model, load_tiny_processor(path)
