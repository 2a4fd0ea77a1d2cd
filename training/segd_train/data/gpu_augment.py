"""Batched training augmentation as plain torch ops on the training device (GPU or CPU alike).

The recipe is mmseg's (architectures.md §1.9): Resize(keep ratio, random ratio) → RandomCrop(cat_max_ratio,
retries) → RandomFlip → PhotoMetricDistortion → Pad(image 0, label ignore). Resize, crop, flip and pad are
folded into ONE sampling grid per sample, so a batch costs one `grid_sample` for the images (bilinear, like
cv2 INTER_LINEAR) and one for the labels (nearest) — no per-sample Python image work, no worker processes.

Random parameters are drawn on the CPU from a caller-owned `torch.Generator` (stored in checkpoints), so the
same seed gives the same crops on CPU and GPU.

Photometric differences from mmseg, on purpose:
- saturation is exact HSV: with hue and value fixed, every channel is linear in S, so scaling S by α is
  c' = V − α·(V − c) with V = max(r, g, b);
- hue is approximated by rotating RGB about the grey axis (1,1,1) by 2·δ degrees (δ in OpenCV's 0–180 hue
  units, ±18 → ±36°): one 3×3 matrix per sample instead of an RGB→HSV→RGB round trip. It keeps the grey
  level (mean of r,g,b) and the chroma magnitude, which is what a hue jitter is for;
- mmseg's hue op runs on float HSV (H in 0–360) yet wraps at 180, corrupting half the hues; we do not copy that.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    crop: tuple[int, int]                       # H, W of the training crop
    scale_range: tuple[float, float] = (0.5, 2.0)
    base_size: tuple[int, int] | None = None    # H, W the ratio multiplies; None = the image's own size
    cat_max_ratio: float = 0.75                 # 1.0 disables the crop retry
    crop_tries: int = 10
    flip_p: float = 0.5
    photometric: bool = True
    brightness: float = 32.0
    contrast: tuple[float, float] = (0.5, 1.5)
    saturation: tuple[float, float] = (0.5, 1.5)
    hue: float = 18.0                           # OpenCV hue units (degrees / 2)


class GpuAugment:
    """`aug(images, labels, generator)`: images B×H×W×3 uint8 RGB and labels B×H×W uint8 on one device →
    (B×3×h×w float32 in 0–255, B×h×w int64) with h×w = crop; padding is 0 in the image, ignore in the label."""

    def __init__(self, cfg: AugmentConfig, num_classes: int, ignore_index: int) -> None:
        lo, hi = cfg.scale_range
        if not 0 < lo <= hi:
            raise ValueError(f"scale_range must satisfy 0 < lo <= hi, got {cfg.scale_range}")
        if min(cfg.crop) <= 0:
            raise ValueError(f"crop must be positive H, W, got {cfg.crop}")
        self.cfg = cfg
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def __call__(self, images: torch.Tensor, labels: torch.Tensor,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        b, h, w, _ = images.shape
        dev = images.device
        ch, cw = self.cfg.crop
        scaled_h, scaled_w = self._scaled_sizes(b, h, w, generator)           # B (CPU, int64)
        act_h = scaled_h.clamp(max=ch)                                        # crop extent inside the image
        act_w = scaled_w.clamp(max=cw)
        tries = self.cfg.crop_tries if self.cfg.cat_max_ratio < 1.0 else 1
        u = torch.rand(b, tries, 2, generator=generator)
        off_y = (u[..., 0] * ((scaled_h - act_h + 1).unsqueeze(1))).floor().long()   # B×T
        off_x = (u[..., 1] * ((scaled_w - act_w + 1).unsqueeze(1))).floor().long()
        flip = torch.rand(b, generator=generator) < self.cfg.flip_p
        photo = self._photometric_params(b, generator) if self.cfg.photometric else None

        sh, sw = scaled_h.to(dev), scaled_w.to(dev)
        ah, aw = act_h.to(dev), act_w.to(dev)
        off_y, off_x = off_y.to(dev), off_x.to(dev)
        if tries > 1:
            pick = self._pick_crop(labels, sh, sw, ah, aw, off_y, off_x)
            off_y = off_y.gather(1, pick[:, None]).squeeze(1)
            off_x = off_x.gather(1, pick[:, None]).squeeze(1)
        else:
            off_y, off_x = off_y[:, 0], off_x[:, 0]

        gy, vy = _axis_grid(ch, off_y, ah, sh, torch.zeros_like(flip).to(dev))
        gx, vx = _axis_grid(cw, off_x, aw, sw, flip.to(dev))
        grid = torch.stack([gx[:, None, :].expand(b, ch, cw), gy[:, :, None].expand(b, ch, cw)], dim=-1)
        valid = vy[:, :, None] & vx[:, None, :]                               # B×h×w, False = padding

        img = F.grid_sample(images.permute(0, 3, 1, 2).float(), grid, mode="bilinear",
                            padding_mode="border", align_corners=False)
        lab = F.grid_sample(labels[:, None].float(), grid, mode="nearest",
                            padding_mode="border", align_corners=False)[:, 0].round().long()
        lab = lab.masked_fill(~valid, self.ignore_index)
        if photo is not None:
            img = _apply_photometric(img, {k: v.to(dev) for k, v in photo.items()})
        img = img * valid[:, None].to(img.dtype)
        return img, lab

    def _scaled_sizes(self, b: int, h: int, w: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        lo, hi = self.cfg.scale_range
        ratio = lo + (hi - lo) * torch.rand(b, generator=g, dtype=torch.float64)
        bh, bw = self.cfg.base_size if self.cfg.base_size is not None else (h, w)
        # mmcv keep-ratio rescale: fit the long edge to long·ratio and the short edge to short·ratio.
        factor = torch.minimum(ratio * max(bh, bw) / max(h, w), ratio * min(bh, bw) / min(h, w))
        return (h * factor + 0.5).floor().long().clamp(min=1), (w * factor + 0.5).floor().long().clamp(min=1)

    def _pick_crop(self, labels: torch.Tensor, sh: torch.Tensor, sw: torch.Tensor, ah: torch.Tensor,
                   aw: torch.Tensor, off_y: torch.Tensor, off_x: torch.Tensor) -> torch.Tensor:
        """Index of the first candidate whose most frequent class covers < cat_max_ratio of the labelled
        pixels (and at least two classes are present), else the last one — mmseg RandomCrop, all on-device.
        Class shares are estimated on a 1/4-resolution sample of each candidate crop (at least 16 per side)."""
        b, t = off_y.shape
        ch, cw = self.cfg.crop
        rh, rw = min(ch, max(ch // 4, 16)), min(cw, max(cw // 4, 16))
        # Cell centres of a rh×rw grid over the actual crop, in scaled-image pixels.
        fy = (torch.arange(rh, device=labels.device, dtype=torch.float32) + 0.5) / rh
        fx = (torch.arange(rw, device=labels.device, dtype=torch.float32) + 0.5) / rw
        ys = off_y[..., None].float() + fy * ah[:, None, None].float()              # B×T×rh
        xs = off_x[..., None].float() + fx * aw[:, None, None].float()              # B×T×rw
        gy = 2 * ys / sh[:, None, None].float() - 1
        gx = 2 * xs / sw[:, None, None].float() - 1
        grid = torch.stack([gx[:, :, None, :].expand(b, t, rh, rw), gy[:, :, :, None].expand(b, t, rh, rw)], -1)
        grid = grid.reshape(b, t * rh, rw, 2)
        sample = F.grid_sample(labels[:, None].float(), grid, mode="nearest", align_corners=False)
        sample = sample.round().long().reshape(b, t, rh * rw)
        k = self.num_classes
        known = sample < k                          # ignore (and any id ≥ K) does not count
        counts = torch.zeros(b, t, k + 1, device=labels.device)
        counts.scatter_add_(2, torch.where(known, sample, k), known.float())
        counts = counts[..., :k]
        total = counts.sum(-1)
        ok = ((counts > 0).sum(-1) > 1) & (counts.amax(-1) < self.cfg.cat_max_ratio * total)
        first_ok = ok.float().argmax(1)
        return torch.where(ok.any(1), first_ok, torch.full_like(first_ok, t - 1))

    def _photometric_params(self, b: int, g: torch.Generator) -> dict[str, torch.Tensor]:
        c = self.cfg
        r = torch.rand(b, 9, generator=g)
        on = r[:, :5] < 0.5                          # brightness, contrast, contrast-mode, saturation, hue
        brightness = torch.where(on[:, 0], (2 * r[:, 5] - 1) * c.brightness, 0.0)
        contrast = torch.where(on[:, 1], c.contrast[0] + (c.contrast[1] - c.contrast[0]) * r[:, 6], 1.0)
        contrast_first = on[:, 2]
        saturation = torch.where(on[:, 3], c.saturation[0] + (c.saturation[1] - c.saturation[0]) * r[:, 7], 1.0)
        hue = torch.where(on[:, 4], (2 * r[:, 8] - 1) * c.hue, 0.0)
        return {
            "brightness": brightness,
            "contrast_before": torch.where(contrast_first, contrast, 1.0),
            "contrast_after": torch.where(contrast_first, 1.0, contrast),
            "saturation": saturation,
            "hue_matrix": _hue_rotation(hue * 2.0),
        }


def _axis_grid(size: int, offset: torch.Tensor, actual: torch.Tensor, scaled: torch.Tensor,
               flip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised source coordinates (grid_sample, align_corners=False) of `size` output pixels along one
    axis, and which of them are real (the rest is padding). Flip mirrors within the actual crop, before the
    bottom/right padding, as mmseg does (crop → flip → pad)."""
    j = torch.arange(size, device=offset.device).unsqueeze(0)                 # 1×S
    a = actual.unsqueeze(1)
    jj = torch.where(flip.unsqueeze(1), a - 1 - j, j)
    pos = offset.unsqueeze(1) + jj                                            # pixel in the scaled image
    # cv2 half-pixel mapping: source = (pos + 0.5) / s − 0.5  ⇔  normalised = 2·(pos + 0.5) / scaled − 1.
    g = 2 * (pos.float() + 0.5) / scaled.unsqueeze(1).float() - 1
    return g, j < a


def _hue_rotation(degrees: torch.Tensor) -> torch.Tensor:
    """B×3×3 rotations about the grey axis (Rodrigues with k = (1,1,1)/√3)."""
    t = degrees * (math.pi / 180.0)
    cos, sin = torch.cos(t), torch.sin(t)
    a = cos + (1 - cos) / 3
    b = (1 - cos) / 3 - sin / math.sqrt(3)
    c = (1 - cos) / 3 + sin / math.sqrt(3)
    return torch.stack([torch.stack([a, b, c], -1), torch.stack([c, a, b], -1), torch.stack([b, c, a], -1)], -2)


def _apply_photometric(img: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
    """mmseg order: brightness, [contrast], saturation, hue, [contrast]; clamp to 0–255 after each op."""
    v = lambda t: t.view(-1, 1, 1, 1)  # noqa: E731 — per-sample scalar broadcast
    img = (img + v(p["brightness"])).clamp(0, 255)
    img = (img * v(p["contrast_before"])).clamp(0, 255)
    top = img.amax(1, keepdim=True)
    img = (top - v(p["saturation"]) * (top - img)).clamp(0, 255)
    img = torch.einsum("bij,bjhw->bihw", p["hue_matrix"], img).clamp(0, 255)
    return (img * v(p["contrast_after"])).clamp(0, 255)
