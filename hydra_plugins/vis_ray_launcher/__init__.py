"""Hydra launcher plugin of this project: ``hydra/launcher=vis_ray`` (see vis_pipeline.ray_shards)."""
