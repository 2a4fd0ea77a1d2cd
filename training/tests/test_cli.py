"""`python -m segd_train`: recipe validation, run-directory safety, time limit, eval and fps commands."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from segd_train.cli import main
from segd_train.engine import load_config, read_checkpoint
from segd_train.models import MODEL_NAMES, STUDENTS, TEACHERS, build_model

from conftest import TRAINING, write_recipe

CONFIGS = sorted((TRAINING / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_recipes_load(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.name == path.stem
    assert set(path.read_text().split()) >= {"name:", "task:", "model:", "iterations:"}  # complete, flat files
    assert cfg.model in MODEL_NAMES and (cfg.teacher is None or cfg.teacher in MODEL_NAMES)


def test_every_student_has_a_short_cpu_recipe() -> None:
    students = STUDENTS
    names = {p.stem for p in CONFIGS}
    for name in students:
        recipe = "camvid-sctnet-s-short" if name == "sctnet-s" else f"camvid-{name}-cpu"
        assert recipe in names, f"no configs/{recipe}.yaml for {name}"
        cfg = load_config(TRAINING / "configs" / f"{recipe}.yaml")
        assert (cfg.model, cfg.iterations, cfg.batch_size, cfg.crop) == (name, 150, 8, (288, 384))


def test_profile_counts_params_and_gflops_as_the_team_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--model", "sctnet-s"]) == 0
    doc = json.loads(capsys.readouterr().out)
    model = build_model("sctnet-s", 11)
    assert doc == {"model": "sctnet-s", "params": model.inference_parameters(),
                   "train_params": sum(p.numel() for p in model.parameters()), "gflops": 5.39, "size": [360, 480]}
    assert main(["profile", "--model", "sctnet-s", "--size", "180x240"]) == 0
    small = json.loads(capsys.readouterr().out)
    assert small["size"] == [180, 240] and small["params"] == doc["params"]
    assert small["gflops"] == pytest.approx(doc["gflops"] / 4, rel=0.05)   # ≈ scales with pixels (padding aside)
    assert main(["profile", "--model", "sctnet-s", "--size", "180x240", "--num-classes", "19"]) == 0
    k19 = json.loads(capsys.readouterr().out)
    assert k19["params"] == doc["params"] + 8 * (128 + 1)                       # decode classifier only
    assert k19["train_params"] == doc["train_params"] + 8 * (128 + 1) + 8 * (64 + 1)   # + the aux classifier


def test_models_command_lists_students_and_teachers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["models"] == list(MODEL_NAMES) and "sctnet-s" in doc["students"]
    assert doc["students"] == list(STUDENTS) and doc["teachers"] == list(TEACHERS)
    assert "hybrid-lite0-mit" in doc["teachers"] and "segformer-b2" in doc["teachers"]
    assert sorted(doc["students"] + doc["teachers"]) == sorted(MODEL_NAMES)


def test_recipe_errors_name_the_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_recipe(tmp_path / "bad.yaml", learning_rate=0.1)
    assert main(["train-baseline", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert f"{bad}: unknown key(s) ['learning_rate']" in capsys.readouterr().err
    bad = write_recipe(tmp_path / "bad2.yaml", crop=[64])
    assert main(["train-baseline", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "'crop' must be a list of two integers, got [64]" in capsys.readouterr().err
    teacher = write_recipe(tmp_path / "t.yaml", task="teacher", model="segformer-b0")
    assert main(["train-baseline", "--config", str(teacher), "--out", str(tmp_path / "o")]) == 2
    assert "recipe task is 'teacher' but `train-baseline` trains 'baseline'" in capsys.readouterr().err
    assert main(["train-baseline", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: config file not found" in capsys.readouterr().err
    student = write_recipe(tmp_path / "s.yaml", task="student", teacher="segformer-b0")
    assert main(["train-student", "--config", str(student), "--out", str(tmp_path / "s"), "--device", "cpu",
                 "--no-progress"]) == 2
    assert "needs --teacher CKPT" in capsys.readouterr().err


def test_time_limit_stops_cleanly_then_resume_and_eval(camvid_root: Path, tmp_path: Path) -> None:
    cfg = write_recipe(tmp_path / "r.yaml", iterations=2, val_limit=1)
    out = tmp_path / "run"
    base = ["train-baseline", "--config", str(cfg), "--out", str(out), "--device", "cpu", "--no-progress"]
    assert main(base + ["--max-minutes", "0.001"]) == 0
    ckpt = read_checkpoint(out / "last.pt")
    assert ckpt["step"] == 0 and (out / "metrics.json").is_file()
    assert json.loads((out / "metrics.json").read_text())["reason"] == "time limit"
    with pytest.raises(SystemExit, match="already holds a run"):
        main(base)
    assert main(base + ["--resume"]) == 0
    assert read_checkpoint(out / "last.pt")["step"] == 2
    assert (out / "curves.png").is_file() and (out / "confusion_best.png").is_file()

    assert main(["eval", "--checkpoint", str(out / "last.pt"), "--split", "val", "--limit", "1",
                 "--device", "cpu"]) == 0
    doc = json.loads((out / "eval-last-val.json").read_text())
    assert 0.0 <= doc["miou"] <= 1.0 and doc["split"] == "val" and doc["step"] == 2 and doc["images"] == 1
    assert (out / "eval-last-val-confusion.png").is_file()


def test_fps_command_runs_as_a_module(tmp_path: Path) -> None:
    out = tmp_path / "fps.json"
    proc = subprocess.run([sys.executable, "-m", "segd_train", "fps", "--model", "sctnet-s", "--size", "64x96",
                           "--device", "cpu", "--threads", "2", "--start-iterations", "1", "--run-factor", "0.2",
                           "--out", str(out)], cwd=TRAINING, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["model"] == "sctnet-s" and doc["size"] == [64, 96] and doc["fps"] > 0 and doc["iterations"] >= 1
    bad = subprocess.run([sys.executable, "-m", "segd_train", "fps", "--model", "sctnet-s", "--size", "64by96"],
                         cwd=TRAINING, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "expected HxW such as 360x480, got '64by96'" in bad.stderr


def test_export_is_delegated_to_the_exporter() -> None:
    proc = subprocess.run([sys.executable, "-m", "segd_train", "export", "--help"], cwd=TRAINING,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "--checkpoint" in proc.stdout and "--untrained" in proc.stdout


def test_help_describes_every_command() -> None:
    from segd_train.cli import build_parser
    # the description names the whole command list, the last ones included (argparse wraps it at print time)
    assert build_parser().description == ("`python -m segd_train <command>`: train-teacher, train-student, "
                                          "train-baseline, eval, fps, profile, models, report, export, import, quantize.")
