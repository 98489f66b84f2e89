"""RefPoint: roboref's own small 3D-aware pointing model (separate RGB and depth encoders, text
fusion, heatmap head), with SFT and GRPO-style RFT trainers that run on a CPU."""

from roboref.agents.refpoint.agent import RefPointAgent, shipped_checkpoint
from roboref.agents.refpoint.config import RefPointConfig
from roboref.agents.refpoint.model import RefPointModel, RefPointOutput

__all__ = ["RefPointAgent", "RefPointConfig", "RefPointModel", "RefPointOutput", "shipped_checkpoint"]
