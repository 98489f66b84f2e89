"""``roboref train sft|rft``: hydra config → trainer config → run (``roboref.train`` dispatches)."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf


def _plain(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def sft_command(cfg: DictConfig) -> int:
    from roboref.agents.refpoint.sft import RefPointSFTConfig, train_sft

    result = train_sft(RefPointSFTConfig.from_dict(_plain(cfg)))
    print(f"sft {result.status} at step {result.step}; outputs in {result.out}")
    return 0 if result.status in ("done", "time") else 1


def rft_command(cfg: DictConfig) -> int:
    from roboref.agents.refpoint.rft import RefPointRFTConfig, train_rft

    result = train_rft(RefPointRFTConfig.from_dict(_plain(cfg)))
    print(f"rft {result.status} at step {result.step}; outputs in {result.out}")
    return 0 if result.status in ("done", "time") else 1
