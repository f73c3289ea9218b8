"""coder: no-code CPU inference acceleration for PyTorch scripts."""

__version__ = "0.1.0"
