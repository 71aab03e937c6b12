"""The notebooks in notebooks/ run top to bottom on the data in data/ and show their figures."""
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")  # two notebooks train with torch; torch-free CI (.ci/run) skips this module
import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
FIGURES = {"01_complexity_over_training.ipynb": 4, "02_variants.ipynb": 3, "sparsity_vs_complexity.ipynb": 4}


@pytest.fixture(scope="module")
def kernel_name():
    """The venv's python3 kernel; installed into the venv (sys.prefix) if the spec is missing."""
    from jupyter_client.kernelspec import KernelSpecManager

    if "python3" not in KernelSpecManager().find_kernel_specs():
        from ipykernel.kernelspec import install
        install(prefix=sys.prefix)
    return "python3"


def test_every_notebook_is_listed():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(FIGURES)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_notebook_runs_and_draws(name, kernel_name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name=kernel_name,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == FIGURES[name]
