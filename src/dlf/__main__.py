"""`python -m dlf ...` is the same as the `dlf` console script (and what torchrun launches)."""

from dlf.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
