"""Models: SCTNet-S/-B, STDC1/2-Seg and SFNet / SFNet-Lite students and SegFormer (MiT-B0…B3) teachers, built by name."""
from .registry import MODEL_NAMES, build_model
from .sctnet import SCTNet
from .segformer import SegFormer
from .sfnet import SFNet
from .stdcseg import STDCSeg

__all__ = ["MODEL_NAMES", "build_model", "SCTNet", "SFNet", "STDCSeg", "SegFormer"]
