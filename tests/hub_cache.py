"""A Hugging Face hub cache laid out as ``huggingface_hub`` writes it, built from local model folders.

``models--ORG--NAME/refs/<revision>`` holds a commit hash; ``snapshots/<commit>/<file>`` are
relative symlinks into ``blobs/<sha256>``, one blob per distinct file content.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


def add_revision(cache: Path, repo_id: str, revision: str, folder: Path) -> Path:
    """Put the files of ``folder`` in ``cache`` as ``repo_id@revision``; returns the snapshot folder."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    commit = hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()
    snapshot = repo / "snapshots" / commit
    for file in sorted(Path(folder).rglob("*")):
        if not file.is_file():
            continue
        data = file.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        if not blob.exists():
            shutil.copyfile(file, blob)
        link = snapshot / file.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    ref = repo / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(commit)  # the hub writes the hash without a newline
    return snapshot
