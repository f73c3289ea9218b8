"""coder's bundled runtime: ``from coder.backend import InferenceOptimizer``.

Importing this package is cheap: torch and every runtime (IPEX, ONNX Runtime, OpenVINO,
NNCF, PT2E) are imported only when a call needs them.
"""

__all__ = ["InferenceOptimizer"]


def __getattr__(name: str):
    if name == "InferenceOptimizer":
        from coder.backend.optimizer import InferenceOptimizer

        return InferenceOptimizer
    raise AttributeError(f"module 'coder.backend' has no attribute {name!r}")
