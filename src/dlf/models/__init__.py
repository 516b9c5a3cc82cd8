"""Model modules: each holds one nn.Module, its loss where it has its own, and its sampler where it samples."""
