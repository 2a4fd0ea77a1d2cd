"""Reading an official checkpoint: an mmseg/mmcv `.pth` (state_dict + meta with the config text and class
names), a bare state dict (ImageNet backbones, STDC/SFNet files), a `.safetensors` file, or a Hugging Face model
directory (config.json + model.safetensors or pytorch_model.bin, optional preprocessor_config.json).

Pickled files are read with `weights_only=True`: an official file holds tensors, numbers and strings only, and
anything else is refused rather than executed.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .keytable import ImportRefused


@dataclass
class OfficialCheckpoint:
    path: Path
    state: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)       # mmcv `meta` (config text, CLASSES, PALETTE)
    hf_config: dict[str, Any] | None = None                  # Hugging Face config.json
    hf_preprocessor: dict[str, Any] | None = None            # Hugging Face preprocessor_config.json


def _load_torch(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:   # torch raises several unrelated types for a truncated or foreign file
        raise ImportRefused(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from None


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise ImportRefused(f"{path}: not a readable safetensors file ({e})") from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ImportRefused(f"{path}: cannot read JSON ({e})") from None
    if not isinstance(doc, dict):
        raise ImportRefused(f"{path}: expected a JSON object")
    return doc


def _tensors_only(obj: Any, where: Path) -> dict[str, torch.Tensor]:
    if not isinstance(obj, dict) or not obj:
        raise ImportRefused(f"{where}: expected a state dict (name → tensor), got {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ImportRefused(f"{where}: entries that are not tensors: {', '.join(map(str, bad[:8]))}")
    # DataParallel / DDP saves prefix every name with "module."
    if all(k.startswith("module.") for k in obj):
        obj = {k.removeprefix("module."): v for k, v in obj.items()}
    return obj


def read_official(path: str | Path) -> OfficialCheckpoint:
    p = Path(path)
    if p.is_dir():
        config = p / "config.json"
        if not config.is_file():
            raise ImportRefused(f"{p}: a directory must be a Hugging Face model (config.json + weights)")
        weights = next((p / n for n in ("model.safetensors", "pytorch_model.bin") if (p / n).is_file()), None)
        if weights is None:
            raise ImportRefused(f"{p}: no model.safetensors or pytorch_model.bin beside config.json")
        pre = p / "preprocessor_config.json"
        state = (_load_safetensors(weights) if weights.suffix == ".safetensors"
                 else _tensors_only(_load_torch(weights), weights))
        return OfficialCheckpoint(p, state, hf_config=_read_json(config),
                                  hf_preprocessor=_read_json(pre) if pre.is_file() else None)
    if not p.is_file():
        raise ImportRefused(f"{p}: checkpoint not found")
    if p.suffix == ".safetensors":
        return OfficialCheckpoint(p, _load_safetensors(p))
    obj = _load_torch(p)
    meta: dict[str, Any] = {}
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state", "net"):   # mmcv, STDC/SFNet trainers
            if key in obj and isinstance(obj[key], dict):
                meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
                obj = obj[key]
                break
    return OfficialCheckpoint(p, _tensors_only(obj, p), meta=meta)


_IMG_SCALE = re.compile(r"img_scale\s*=\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)")
_CROP = re.compile(r"crop_size\s*=\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)")


def input_size_from_mmseg_config(text: str) -> tuple[int, int] | None:
    """(H, W) the model was evaluated at, from an mmseg config's text: the test pipeline's `img_scale` (mmseg
    writes (w, h)) when it is a real frame size (Cityscapes 1024×512, 1536×768, 2048×1024); ADE20K/COCO-Stuff
    write (2048, 512) meaning 'short side 512', so there the training `crop_size` (h, w) is taken instead."""
    test = text[text.find("test_pipeline"):] if "test_pipeline" in text else text
    m = _IMG_SCALE.search(test[test.find("MultiScaleFlipAug"):] if "MultiScaleFlipAug" in test else test)
    if m:
        w, h = int(m.group(1)), int(m.group(2))
        if max(w, h) <= 2 * min(w, h):
            return h, w
    c = _CROP.search(text)
    return (int(c.group(1)), int(c.group(2))) if c else None
