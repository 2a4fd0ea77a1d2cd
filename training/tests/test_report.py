"""`segd_train report`: RESULTS.md tables read off run directories."""
from pathlib import Path

import pytest
import yaml

from segd_train.cli import main
from segd_train.engine.report import summarise, wall_seconds


def _run(tmp_path: Path, name: str = "r1", val: str = "20,0.40,0.80,0.9,\n40,0.50,0.85,0.95,0.9\n",
         val_split: str = "xseq-val") -> Path:
    run = tmp_path / name
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"name": "recipe", "model": "sctnet-s", "teacher": None,
                                                     "train_split": "xseq-train", "val_split": val_split,
                                                     "iterations": 100, "batch_size": 8, "num_threads": 1}))
    (run / "train.csv").write_text("step,time_s,total\n10,60.0,1.0\n20,120.0,0.9\n30,30.0,0.8\n40,90.0,0.7\n")
    (run / "val.csv").write_text("step,miou,pixel_accuracy,iou_sky,iou_road\n" + val)
    return run


def test_summary_takes_the_best_validation_and_sums_resumed_wall_time(tmp_path: Path):
    s = summarise(_run(tmp_path))
    assert (s.name, s.step, s.images, s.best_step, s.miou) == ("r1", 40, 320, 40, 0.50)
    assert s.wall_hours == pytest.approx((120 + 90) / 3600)           # two processes: 120 s, then 90 s
    assert s.per_class == {"sky": 0.95, "road": 0.9}
    assert wall_seconds([]) == 0.0


def test_report_command_prints_both_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["report", str(_run(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "| r1 | sctnet-s | — | xseq-train | xseq-val | 50.0 | 85.0 | 40 | 40/100 | 320 | 0.06 |" in out
    assert "| r1 | 95.0 | 90.0 |" in out
    assert main(["report", str(tmp_path / "missing")]) == 2


def test_two_runs_are_compared_at_the_steps_both_validated(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    a = _run(tmp_path)
    b = _run(tmp_path, "r2", "10,0.30,0.7,0.9,0.1\n20,0.45,0.8,0.9,0.2\n40,0.48,0.85,0.9,0.3\n")
    assert main(["report", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "| step (xseq-val mIoU) | r1 | r2 | 2nd − 1st |" in out
    assert "| 20 | 40.0 | 45.0 | +5.0 |" in out
    assert "| 40 | 50.0 | 48.0 | -2.0 |" in out
    assert "| 10 |" not in out                                        # validated by one run only


def test_one_run_has_no_equal_steps_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["report", str(_run(tmp_path))]) == 0
    assert "| step (" not in capsys.readouterr().out


def test_runs_scored_on_different_splits_get_no_equal_steps_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    a, b = _run(tmp_path), _run(tmp_path, "r2", val_split="val")
    assert main(["report", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "| r2 | sctnet-s | — | xseq-train | val |" in out and "| step (" not in out


def test_a_split_the_run_trained_on_is_marked_seen(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run = _run(tmp_path)
    (run / "splits.json").write_text('{"train_split": "trainval", "val_split": "xseq-val", "val_frames": 101, '
                                     '"val_frames_in_training": 101}\n')
    assert summarise(run).val_split == "xseq-val (seen in training: 101/101 frames)"
    clean = _run(tmp_path, "r2")
    (clean / "splits.json").write_text('{"train_split": "xseq-train", "val_split": "xseq-val", "val_frames": 101, '
                                       '"val_frames_in_training": 0}\n')
    assert summarise(clean).val_split == "xseq-val"
    assert main(["report", str(run), str(clean)]) == 0
    assert "| step (" not in capsys.readouterr().out                 # not comparable: one was scored on seen frames
