"""README.md runs as written: every ```python block (in order, one namespace) and every
``kcomplexity`` line of every ```bash block, in a folder holding ``data/`` and a config-built
Hugging Face folder ``hf_model/``. A ```text block right after a command is that command's
output: each of its numbers must appear in what the command prints."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")  # the README's hf_model/ is built from a config; torch-free CI skips this module

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]\d+)?(?![\w.])")


def readme_blocks(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def commands(block: str) -> list[str]:
    """The ``kcomplexity`` lines of a shell block, comments dropped."""
    lines = [line.split(" #")[0].strip() for line in block.splitlines()]
    return [line for line in lines if line.startswith("kcomplexity ")]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_bert_config):
    import torch
    from transformers import BertForMaskedLM

    work = tmp_path_factory.mktemp("readme")
    os.symlink(ROOT / "data", work / "data")
    torch.manual_seed(7)
    BertForMaskedLM(tiny_bert_config).save_pretrained(work / "hf_model")
    return work


def test_readme_has_the_blocks_it_promises():
    blocks = readme_blocks((ROOT / "README.md").read_text())
    kinds = [kind for kind, _ in blocks]
    assert kinds.count("python") >= 1 and kinds.count("bash") >= 3 and "text" in kinds
    assert sum(len(commands(b)) for k, b in blocks if k == "bash") >= 8


def test_readme_runs_as_written(workdir, monkeypatch):
    """Python blocks first (the quick start writes momos.safetensors), then the shell blocks in order."""
    monkeypatch.chdir(workdir)
    blocks = readme_blocks((ROOT / "README.md").read_text())
    namespace: dict = {"__name__": "__readme__"}
    for kind, code in blocks:
        if kind == "python":
            exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["table"]["ratio_to_reference"].notna().all()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    last_output = None
    for kind, block in blocks:
        if kind == "text" and last_output is not None:
            missing = [n for n in NUMBER.findall(block) if n not in last_output]
            assert not missing, f"README shows numbers the command no longer prints: {missing}"
        for line in commands(block) if kind == "bash" else []:
            proc = subprocess.run([sys.executable, "-m", "kcomplexity.cli", *shlex.split(line)[1:]], cwd=workdir,
                                  env=env, capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"{line}\n{proc.stderr[-2000:]}"
            last_output = proc.stdout
            for out in re.findall(r"--out (\S+)", line):
                assert (workdir / out).stat().st_size > 0, f"{line} wrote no {out}"
        if kind != "text":
            last_output = last_output if kind == "bash" else None
