"""Sim-to-real deployment: calibration import, point → 3D lifting, robot adapters, the safety layer."""
