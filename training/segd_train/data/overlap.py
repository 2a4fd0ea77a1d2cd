"""How many frames of one split another split also holds. A model trained on `trainval` and scored on `xseq-val`
has seen every scored frame: that figure measures fitting, not generalisation, and every place that prints it
(the training log, `segd_train report`, the model card) says so."""
from __future__ import annotations

from .dataset import SegDataset


def shared_frames(train: SegDataset, scored: SegDataset) -> int:
    """Frames of `scored` whose image file is also in `train` (compared as resolved paths, so a list split and a
    folder split naming the same file count as one frame)."""
    seen = {s.image.resolve() for s in train.items}
    return sum(1 for s in scored.items if s.image.resolve() in seen)


def scored_on_label(split: str, shared: int, total: int) -> str:
    """The split's name, marked when the model trained on some of its frames."""
    return split if shared == 0 else f"{split} (seen in training: {shared}/{total} frames)"
