"""Checkpoint series: step parsing, ordering, metrics.json, several series, explicit steps."""
import json

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # torch-free CI (.ci/run) skips this module
from safetensors.torch import save_file

from kcomplexity.errors import SourceError
from kcomplexity.io import discover, steps_from_name


@pytest.mark.parametrize("name, expected", [
    ("step_100.pt", (100, None)),
    ("epoch=3-step=200.ckpt", (200, 3)),
    ("checkpoint-500", (500, None)),
    ("ckpt_0007.safetensors", (7, None)),
    ("epoch_0003.safetensors", (None, 3)),
    ("global_step1200", (1200, None)),
    ("model.safetensors", (None, None)),
])
def test_steps_from_name(name, expected):
    assert steps_from_name(name) == expected


def _write(path, value=0.0):
    save_file({"w": torch.full((2, 2), float(value))}, path)


def test_series_ordered_by_parsed_step_not_name(tmp_path):
    for step in (1000, 20, 300):
        _write(tmp_path / f"step_{step}.safetensors")
    (tmp_path / "notes.txt").write_text("ignored")
    refs = discover(tmp_path)
    assert [(r.name, r.step) for r in refs] == [("step_20.safetensors", 20), ("step_300.safetensors", 300),
                                                ("step_1000.safetensors", 1000)]


def test_epoch_names_take_step_from_metrics_json(tmp_path):
    for epoch in range(3):
        _write(tmp_path / f"epoch_{epoch:04d}.safetensors", epoch)
    records = [{"step": 50 * e, "epoch": e, "accuracy": 0.1 * e, "loss": 2.0 - e} for e in range(3)]
    (tmp_path / "metrics.json").write_text(json.dumps({"records": records, "meta": {"model": "mlp"}}))
    refs = discover(tmp_path)
    assert [r.step for r in refs] == [0, 50, 100]
    assert refs[2].metrics == {"epoch": 2, "accuracy": pytest.approx(0.2), "loss": 0.0}


def test_epoch_names_without_metrics_use_the_epoch(tmp_path):
    for epoch in (2, 0, 1):
        _write(tmp_path / f"epoch_{epoch:04d}.safetensors")
    assert [r.step for r in discover(tmp_path)] == [0, 1, 2]


def test_lightning_global_step_metadata_beats_the_name(tmp_path):
    for i, step in enumerate((10, 5)):
        torch.save({"state_dict": {"w": torch.ones(2)}, "global_step": step, "epoch": i}, tmp_path / f"last-{i}.ckpt")
    assert [(r.name, r.step) for r in discover(tmp_path)] == [("last-1.ckpt", 5), ("last-0.ckpt", 10)]


def test_hf_checkpoint_directories_form_a_series(tmp_path):
    for step in (500, 1000):
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        _write(d / "model.safetensors")
    assert [(r.name, r.step) for r in discover(tmp_path)] == [("checkpoint-500", 500), ("checkpoint-1000", 1000)]


def test_unparseable_names_list_the_names_and_the_fix(tmp_path):
    _write(tmp_path / "best.safetensors")
    _write(tmp_path / "final.safetensors")
    with pytest.raises(SourceError, match=r"best.safetensors.*final.safetensors.*steps=\["):
        discover(tmp_path)
    refs = discover([tmp_path / "best.safetensors", tmp_path / "final.safetensors"], steps=[7, 3])
    assert [(r.name, r.step) for r in refs] == [("final.safetensors", 3), ("best.safetensors", 7)]


def test_duplicate_steps_are_refused(tmp_path):
    _write(tmp_path / "step_5.safetensors")
    torch.save({"w": torch.ones(2)}, tmp_path / "step_5.pt")
    with pytest.raises(SourceError, match="both have step 5"):
        discover(tmp_path)


def test_parent_directory_of_series(tmp_path):
    for run in ("momos", "baseline"):
        (tmp_path / run).mkdir()
        for epoch in range(2):
            _write(tmp_path / run / f"epoch_{epoch:04d}.safetensors")
    refs = discover(tmp_path)
    assert [(r.series, r.step) for r in refs] == [("baseline", 0), ("baseline", 1), ("momos", 0), ("momos", 1)]


def test_glob_and_in_memory_lists(tmp_path):
    for step in (3, 1):
        _write(tmp_path / f"ckpt_{step}.safetensors")
    assert [r.step for r in discover(str(tmp_path / "ckpt_*.safetensors"))] == [1, 3]
    refs = discover([{"w": np.zeros(2, np.float32)}, {"w": np.ones(2, np.float32)}])
    assert [(r.name, r.step) for r in refs] == [("0", 0), ("1", 1)]
    with pytest.raises(SourceError, match="matches no file"):
        discover(str(tmp_path / "nothing_*.pt"))


def test_empty_directory_says_what_was_looked_for(tmp_path):
    with pytest.raises(SourceError, match="no checkpoints found"):
        discover(tmp_path)
