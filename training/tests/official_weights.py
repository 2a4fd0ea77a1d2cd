"""Deterministic random weights in an official checkpoint's own key layout, and the fixed test input.

The official implementations were run once (tests/fixtures/official/generate.py, in a scratch environment with
their own code) on exactly these weights and this input; the fixtures keep only the key/shape table and the
logits, so the weights are rebuilt here instead of being committed.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch

FIXTURES = Path(__file__).parent / "fixtures" / "official"


def _seed(name: str, seed: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "little") & ((1 << 63) - 1)


def random_tensor(name: str, shape: list[int], seed: int) -> torch.Tensor:
    """One tensor, a function of (name, shape, seed) only. Scales keep activations O(1) through deep nets:
    weights ~ N(0, 1/fan_in), biases and BN/LN shifts ~ N(0, 0.1²), scales ~ 1 + N(0, 0.1²), running variances
    in [0.5, 1.5]."""
    g = torch.Generator().manual_seed(_seed(name, seed))
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return torch.tensor(0, dtype=torch.long)
    if leaf == "running_var":
        return torch.rand(shape, generator=g) + 0.5
    if leaf in ("running_mean", "bias"):
        return torch.randn(shape, generator=g) * 0.1
    if len(shape) == 1:   # norm scales
        return 1.0 + torch.randn(shape, generator=g) * 0.1
    fan_in = math.prod(shape[1:])
    return torch.randn(shape, generator=g) / math.sqrt(fan_in)


def random_state(table: dict[str, list[int]], seed: int,
                 aliases: dict[str, str] | None = None) -> dict[str, torch.Tensor]:
    """`aliases` (alias → key): names the official module registers twice (STDCNet's `x2`…`x32` views of its
    `features`); an alias holds the very tensor of its key, as in a file the official code saved."""
    aliases = aliases or {}
    state = {k: random_tensor(k, shape, seed) for k, shape in table.items() if k not in aliases}
    return {k: state[aliases[k]] if k in aliases else state[k] for k in table}


def fixture_state(fx: dict) -> dict[str, torch.Tensor]:
    return random_state(fx["keys"], fx["seed"], fx.get("aliases"))


def fixed_input(n: int, h: int, w: int, seed: int = 7) -> torch.Tensor:
    """A normalised-looking N×3×H×W float input (what the networks see after mean/std)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, h, w, generator=g)


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def fixture_logits(fx: dict) -> torch.Tensor:
    import base64

    import numpy as np
    raw = np.frombuffer(base64.b64decode(fx["logits_f32_b64"]), dtype=np.float32)
    return torch.from_numpy(raw.reshape(fx["logits_shape"]).copy())


def write_mmseg_checkpoint(path: Path, state: dict[str, torch.Tensor], meta: dict | None = None) -> Path:
    """The file mmcv's save_checkpoint writes: {"meta": ..., "state_dict": ...} (optimizer left out)."""
    torch.save({"meta": meta or {}, "state_dict": state}, path)
    return path


def write_hf_directory(path: Path, state: dict[str, torch.Tensor], config: dict,
                       preprocessor: dict | None = None) -> Path:
    """A Hugging Face model directory: config.json + model.safetensors (+ preprocessor_config.json)."""
    from safetensors.torch import save_file
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config))
    save_file({k: v.contiguous() for k, v in state.items()}, str(path / "model.safetensors"))
    if preprocessor is not None:
        (path / "preprocessor_config.json").write_text(json.dumps(preprocessor))
    return path


# What transformers writes for nvidia/segformer-b0-finetuned-cityscapes-* (the fields the importer reads).
HF_B0_CONFIG = {"model_type": "segformer", "architectures": ["SegformerForSemanticSegmentation"],
                "hidden_sizes": [32, 64, 160, 256], "depths": [2, 2, 2, 2], "decoder_hidden_size": 256,
                "num_attention_heads": [1, 2, 5, 8], "sr_ratios": [8, 4, 2, 1], "num_labels": 19}
