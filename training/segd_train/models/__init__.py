"""Models: SCTNet-S/-B, STDC1/2-Seg and SFNet / SFNet-Lite students; SegFormer (MiT-B0…B3) and hybrid
EfficientNet-Lite + MiT teachers; built by name from the registry."""
from .registry import MODEL_NAMES, STUDENTS, TEACHERS, build_model, model_entry
from .sctnet import SCTNet
from .segformer import SegFormer
from .sfnet import SFNet
from .stdcseg import STDCSeg

__all__ = ["MODEL_NAMES", "STUDENTS", "TEACHERS", "build_model", "model_entry", "SCTNet", "SFNet", "STDCSeg", "SegFormer"]
