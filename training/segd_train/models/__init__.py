"""Models: SCTNet-S/-B and STDC1/2-Seg students and SegFormer (MiT-B0…B3) teachers, built by name."""
from .registry import MODEL_NAMES, build_model
from .sctnet import SCTNet
from .segformer import SegFormer
from .stdcseg import STDCSeg

__all__ = ["MODEL_NAMES", "build_model", "SCTNet", "STDCSeg", "SegFormer"]
