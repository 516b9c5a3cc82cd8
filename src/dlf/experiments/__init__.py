"""One module per experiment: its Config and its run(cfg, run)."""
