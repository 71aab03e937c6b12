"""``hf:ORG/NAME[@REVISION]``: models in the Hugging Face cache, downloaded only when allowed.

Spec: ``hf:ORG/NAME`` (revision ``main``), ``hf:ORG/NAME@REV`` (a branch, tag or commit),
``hf:ORG/NAME/FILE[@REV]`` (one file of the repository, e.g. a ``.gguf`` or ``.onnx``),
``hf:ORG/NAME@step*`` (every revision matching the glob: a checkpoint series) or
``hf:ORG/NAME@step0,step1000`` (those revisions: a series). A series' checkpoints are named
after their revisions, so their steps are read from the names (``step1000`` -> 1000).

Resolution goes through ``huggingface_hub``: the local cache (``HF_HUB_CACHE``, else
``HF_HOME/hub``, else ``~/.cache/huggingface/hub``) first; a revision missing there is
downloaded with the hub's progress bar, weights and config only, unless ``HF_HUB_OFFLINE``
is set, which raises an error naming the cache folder instead. A glob is matched against the
repository's branches and tags on the Hub, or offline against the revisions in the cache.

A snapshot is read only when every file in it resolves inside its repository's cache folder
(``models--ORG--NAME``: the snapshot's symlinks into ``blobs/`` qualify, links elsewhere not).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from ..errors import SourceError, require
from .checkpoint import inside
from .selection import natural_key

PREFIX = "hf:"
DEFAULT_REVISION = "main"
NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?"
REPO_ID = re.compile(rf"(?:{NAME}/)?{NAME}")
REVISION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/*?-]{0,254}")
COMMIT = re.compile(r"[0-9a-f]{40}")
FILE_PART = re.compile(r"[A-Za-z0-9._+-]{1,255}")
INDEX, SHARDS = "model.safetensors.index.json", "model-*-of-*.safetensors"
WEIGHTS = (INDEX, "model.safetensors", "pytorch_model.bin")  # what a model folder is read from, first found wins
EXTRAS = ("config.json", "trainer_state.json")
TRUE = ("1", "on", "yes", "true")


@dataclass(frozen=True)
class HubSpec:
    """A parsed ``hf:`` source: the repository, its revisions (a glob, or names) and one file in it, if named."""
    repo_id: str
    revisions: tuple[str, ...]
    file: str | None = None

    @property
    def is_series(self) -> bool:
        return len(self.revisions) > 1 or any(c in self.revisions[0] for c in "*?")

    @property
    def folder(self) -> Path:
        """The repository's folder in the cache (it need not exist)."""
        return cache_dir() / ("models--" + self.repo_id.replace("/", "--"))


def is_hub(source) -> bool:
    return isinstance(source, str) and source.startswith(PREFIX)


def parse(source: str) -> HubSpec:
    """``hf:ORG/NAME[/FILE][@REV[,REV...]]`` -> HubSpec, or SourceError saying what is malformed."""
    path, _, revs = source[len(PREFIX):].partition("@")
    parts = path.split("/")
    repo_id, file = "/".join(parts[:2]), "/".join(parts[2:]) or None
    if not REPO_ID.fullmatch(repo_id) or "--" in repo_id or ".." in repo_id:
        raise SourceError(f"{source[:120]!r}: not a Hugging Face model id; write hf:ORG/NAME, "
                          "hf:ORG/NAME@REVISION or hf:ORG/NAME@step* (letters, digits, '-', '_', '.')")
    if file is not None and not all(FILE_PART.fullmatch(p) and p not in (".", "..") for p in parts[2:]):
        raise SourceError(f"{source[:120]!r}: {file[:80]!r} is not a file path inside the repository "
                          "(hf:ORG/NAME/model.Q4_0.gguf; letters, digits, '-', '_', '.' between '/')")
    revisions = tuple(r.strip() for r in revs.split(",")) if revs else (DEFAULT_REVISION,)
    for rev in revisions:
        check_revision(rev, source)
    if len(revisions) > 1 and any(c in r for r in revisions for c in "*?"):
        raise SourceError(f"{source[:120]!r}: give either one revision glob (@step*) or a list of revisions "
                          "(@step0,step1000), not both")
    return HubSpec(repo_id, revisions, file)


def check_revision(rev: str, where: str) -> str:
    """A branch, tag or commit name: no empty, absolute, ``..`` or backslash parts (it becomes a cache path)."""
    if not REVISION.fullmatch(rev) or ".." in rev or rev.endswith("/") or "//" in rev:
        raise SourceError(f"{where[:120]!r}: revision {rev[:80]!r} is not a branch, tag or commit name "
                          "(letters, digits, '.', '_', '-', '/'; '*' and '?' as a glob)")
    return rev


def cache_dir() -> Path:
    """The hub cache as ``huggingface_hub`` finds it, read from the environment now."""
    env = os.environ
    folder = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE") or \
        os.path.join(env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or "~/.cache", "huggingface"), "hub")
    return Path(os.path.expandvars(os.path.expanduser(folder)))


def offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) forbids network access."""
    return (os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or "").lower() in TRUE


def revisions(spec: HubSpec) -> list[str]:
    """The revisions of ``spec``: its names, or every branch/tag matching its glob, naturally sorted."""
    if not spec.is_series or len(spec.revisions) > 1:
        return list(spec.revisions)
    pattern = spec.revisions[0]
    known = _cached_refs(spec) if offline() else _remote_refs(spec)
    matched = sorted((r for r in known if fnmatchcase(r, pattern)), key=natural_key)
    if not matched:
        where = f"the cache ({spec.folder / 'refs'})" if offline() else "the Hub"
        raise SourceError(f"hf:{spec.repo_id}@{pattern}: no revision matches in {where}; it has "
                          f"{sorted(known, key=natural_key)[:8]}")
    return matched


def _cached_refs(spec: HubSpec) -> list[str]:
    refs = spec.folder / "refs"
    if not refs.is_dir():
        raise _not_cached(spec, spec.revisions[0], None)
    return [p.relative_to(refs).as_posix() for p in refs.rglob("*") if p.is_file()]


def _remote_refs(spec: HubSpec) -> list[str]:
    hub = require("huggingface_hub", "hub", "hf: sources")
    try:
        refs = hub.HfApi().list_repo_refs(spec.repo_id)
    except Exception as exc:  # no connection, unknown repository, ...
        raise SourceError(f"hf:{spec.repo_id}: cannot list its revisions on the Hub ({type(exc).__name__}: "
                          f"{str(exc)[:200]}); check the name and the connection, or set HF_HUB_OFFLINE=1 "
                          "to match the revisions in the cache") from None
    return [r.name for r in (*refs.branches, *refs.tags)]


def snapshot(spec: HubSpec, revision: str) -> Path:
    """The cached snapshot folder of ``revision`` (or its file ``spec.file``); downloaded first where
    missing and allowed."""
    hub = require("huggingface_hub", "hub", "hf: sources")
    cached = _cached_snapshot(hub, spec, revision)
    if cached is not None and ((cached / spec.file).is_file() if spec.file else _has_weights(cached)):
        folder = cached
    elif offline():
        raise _not_cached(spec, revision, cached)
    else:
        folder = _download(hub, spec, revision)
    confined(folder, spec.folder)
    return folder / spec.file if spec.file else folder


def _cached_snapshot(hub, spec: HubSpec, revision: str) -> Path | None:
    ref = spec.folder / "refs" / revision
    if not COMMIT.fullmatch(revision) and ref.exists():
        if not ref.is_file():  # a FIFO would block the hub's own read of it
            raise SourceError(f"{ref}: not a regular file; the cache is damaged: delete it and download again")
        with open(ref, "rb") as f:  # bounded: a hash is 40 characters
            commit = f.read(64).decode(errors="replace").strip()
        if not COMMIT.fullmatch(commit):
            raise SourceError(f"{ref}: holds {commit[:60]!r}, not a 40-digit commit hash; the cache is damaged: "
                              "delete this file (huggingface-cli delete-cache) and download again")
    try:
        return Path(hub.snapshot_download(spec.repo_id, revision=revision, cache_dir=cache_dir(),
                                          local_files_only=True, allow_patterns=["config.json"]))
    except hub.errors.LocalEntryNotFoundError:
        return None


def _has_weights(folder: Path) -> bool:
    return any((folder / w).is_file() for w in WEIGHTS)


def wanted(files: list[str], where: str) -> list[str]:
    """The files of a revision a model folder is read from: one weight format (shards, single
    safetensors, else ``pytorch_model.bin``), ``config.json`` and ``trainer_state.json``; nothing else.

    >>> wanted(["consolidated.safetensors", "model.safetensors.index.json", "model-00001-of-00001.safetensors",
    ...         "onnx/model.onnx", "pytorch_model.bin", "config.json", "README.md"], "hf:org/m")
    ['model.safetensors.index.json', 'model-00001-of-00001.safetensors', 'config.json']
    """
    weights = next((w for w in WEIGHTS if w in files), None)
    if weights is None:
        raise SourceError(f"{where}: no {', '.join(WEIGHTS)} at the top of the repository (it has "
                          f"{sorted(files)[:8]}); kcomplexity reads Hugging Face model folders from the Hub")
    shards = sorted(f for f in files if fnmatchcase(f, SHARDS) and "/" not in f) if weights == INDEX else []
    return [weights, *shards, *(f for f in EXTRAS if f in files)]


def _download(hub, spec: HubSpec, revision: str) -> Path:
    where = f"hf:{spec.repo_id}@{revision}"
    try:
        files = [spec.file] if spec.file else wanted(hub.HfApi().list_repo_files(spec.repo_id, revision=revision),
                                                      where)
        return Path(hub.snapshot_download(spec.repo_id, revision=revision, cache_dir=cache_dir(),
                                          allow_patterns=files))
    except SourceError:
        raise
    except Exception as exc:  # unknown repository or revision, no connection, disk full, ...
        raise SourceError(f"{where}: download into {spec.folder} failed "
                          f"({type(exc).__name__}: {str(exc)[:300]})") from None


def _not_cached(spec: HubSpec, revision: str, folder: Path | None) -> SourceError:
    what = f"lacks {spec.file or 'weights'} in its cached snapshot" if folder else "is not in the Hugging Face cache"
    files = sorted(p.name for p in folder.iterdir() if p.suffix in (".gguf", ".onnx", ".safetensors")) if folder else []
    hint = f" (it holds {files[:4]}: name one, hf:{spec.repo_id}/{files[0]}@{revision})" if files else ""
    return SourceError(f"hf:{spec.repo_id}@{revision} {what}{hint} ({spec.folder}), and HF_HUB_OFFLINE is set, "
                       "so nothing is downloaded: unset HF_HUB_OFFLINE to download it, or point HF_HUB_CACHE at the "
                       "cache that holds it")


def confined(folder: Path, root: Path) -> Path:
    """``folder`` if it and everything under it resolve inside ``root`` (symlinks followed), else SourceError."""
    top = root.resolve()
    for directory, dirs, files in os.walk(folder):  # does not descend into linked folders: each is checked
        for path in (Path(directory), *(Path(directory, n) for n in dirs + files)):
            if not inside(path, top):
                raise SourceError(f"{path}: a link that leaves the repository's cache folder {top} (or loops); "
                                  "refused. Delete the snapshot and download it again")
    return folder


def resolve(source: str) -> Path:
    """The local snapshot folder (or file) of a one-revision ``hf:`` source."""
    spec = parse(source)
    if spec.is_series:
        raise SourceError(f"{source}: names several revisions, a series; analyse it with kcomplexity.analyse "
                          "(load and random_init read one revision)")
    return snapshot(spec, spec.revisions[0])


def series(source: str) -> list[tuple[str, Path]]:
    """``(name, snapshot folder)`` of each revision of an ``hf:`` source, in natural revision order.

    The name is the revision for a series and ``ORG/NAME@REV`` for a single revision."""
    spec = parse(source)
    if not spec.is_series:
        return [(f"{spec.repo_id}@{spec.revisions[0]}", snapshot(spec, spec.revisions[0]))]
    return [(rev, snapshot(spec, rev)) for rev in revisions(spec)]
