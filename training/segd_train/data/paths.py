"""Where shared (read-only) data lives: `$SEGD_SHARED`, else `../shared` beside the repository root."""
from __future__ import annotations

import os
from pathlib import Path

# training/segd_train/data/paths.py → parents[3] is the repository root.
REPO_ROOT = Path(__file__).resolve().parents[3]


def shared_dir() -> Path:
    env = os.environ.get("SEGD_SHARED")
    return Path(env).resolve() if env else (REPO_ROOT.parent / "shared").resolve()


def resolve_data_root(root: str | Path) -> Path:
    """Absolute paths stay; relative ones are taken relative to the shared directory."""
    p = Path(root).expanduser()
    return p if p.is_absolute() else shared_dir() / p
