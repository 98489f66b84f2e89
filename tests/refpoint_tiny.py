"""The tiny RefPoint configuration the training tests build (seconds per run on a CPU)."""

TINY = {
    "image_size": 48,
    "patch": 8,
    "stride": 4,
    "rgb_channels": [8, 8, 8],
    "depth_channels": [4, 4, 4],
    "dim": 16,
    "heads": 2,
    "fusion_layers": 1,
    "text_encoder": "hash",
    "max_tokens": 24,
    "hash_buckets": 256,
}
