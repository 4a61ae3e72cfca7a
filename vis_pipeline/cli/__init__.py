"""Command-line entry points (hydra CLIs read their YAML from the repository's ``configs/``)."""

import warnings
from pathlib import Path

# Absolute: console scripts import these modules as vis_pipeline.cli.*, where hydra would
# resolve a relative config_path as a python package.
CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")

# Import-time chatter of pinned dependencies that users can do nothing about (mmengine imports the
# deprecated pkg_resources; mmdet's mask head builds a tensor from a tensor). Only these exact
# messages are silenced, and only in the command-line programs.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
warnings.filterwarnings("ignore", message="To copy construct from a tensor", category=UserWarning)
