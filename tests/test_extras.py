"""Without torch (or another extra) the toolkit says which extra to install; the core never imports torch."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

SCRIPT = textwrap.dedent("""
    import sys
    sys.modules["torch"] = None  # as if torch were not installed: `import torch` raises ImportError
    import numpy as np
    import kcomplexity as kc
    from kcomplexity.errors import MissingExtraError
    from safetensors.numpy import save_file

    save_file({"w": np.arange(64, dtype=np.float32).reshape(8, 8)}, "m.safetensors")
    print("estimate", kc.analyse("m.safetensors", "raw|zstd-3", cache=False)["bits"].item())
    open("m.pt", "wb").write(b"PK")
    for what, call in [("pt", lambda: kc.load("m.pt")), ("demo", lambda: kc.demo),
                       ("train", lambda: kc.train),
                       ("config", lambda: kc.variants.random_init(sys.argv[1]))]:
        try:
            call()
            print(what, "no error")
        except MissingExtraError as exc:
            print(what, exc)
    print("torch imported:", "torch" in sys.modules and sys.modules["torch"] is not None)
""")


def test_without_torch_the_core_works_and_each_torch_path_names_its_extra(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}')
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(config)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in run.stdout.strip().splitlines())
    from kcomplexity import estimate
    assert lines["estimate"] == str(estimate(np.arange(64, dtype=np.float32).reshape(8, 8), "raw|zstd-3").bits)
    assert "pip install 'kcomplexity[torch]'" in lines["pt"] and "download.pytorch.org/whl/cpu" in lines["pt"]
    assert "pip install 'kcomplexity[demo]'" in lines["demo"]
    assert "pip install 'kcomplexity[torch]'" in lines["train"]
    assert "pip install 'kcomplexity[hf]'" in lines["config"]
    assert lines["torch"] == "imported: False"
