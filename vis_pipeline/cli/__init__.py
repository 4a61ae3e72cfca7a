"""Command-line entry points (hydra CLIs read their YAML from the repository's ``configs/``)."""

from pathlib import Path

# Absolute: console scripts import these modules as vis_pipeline.cli.*, where hydra would
# resolve a relative config_path as a python package.
CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")
