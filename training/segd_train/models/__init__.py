"""Models: SCTNet-S/-B students and SegFormer (MiT-B0…B3) teachers, built by name."""
from .registry import MODEL_NAMES, build_model
from .sctnet import SCTNet
from .segformer import SegFormer

__all__ = ["MODEL_NAMES", "build_model", "SCTNet", "SegFormer"]
