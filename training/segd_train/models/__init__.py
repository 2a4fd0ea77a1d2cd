"""Models: SCTNet-S/-B students, SegFormer (MiT-B0…B3) teachers and SFNet / SFNet-Lite, built by name."""
from .registry import MODEL_NAMES, build_model
from .sctnet import SCTNet
from .segformer import SegFormer
from .sfnet import SFNet

__all__ = ["MODEL_NAMES", "build_model", "SCTNet", "SegFormer", "SFNet"]
