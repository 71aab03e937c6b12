"""Shared by the hostile-input tests: bounded attempts, the outcome tally, crafted files.

``attempt(cls, fn, expect)`` runs one hostile case under a time bound (SIGALRM) and a
memory bound (growth of the peak RSS), and records its outcome under the input class:
``ok`` (finished), ``clear`` (a KComplexityError), ``crash`` (any other exception or
the memory bound), ``hang`` (the time bound) or ``wrong`` (finished where an error was
expected, or an oracle disagreed). Crashes, hangs and wrong results fail the test.
With ``KC_HOSTILE_TABLE=FILE`` the tests write the tally as a Markdown table.
"""
from __future__ import annotations

import collections
import io
import os
import pickle
import resource
import signal
import zipfile
from collections import Counter, defaultdict

import pytest

torch = pytest.importorskip("torch")  # torch-free CI (.ci/run) skips the modules that use this harness

from kcomplexity.errors import KComplexityError

TIME_LIMIT_S = 10.0
RSS_GROWTH_LIMIT_MB = 512
TALLY: dict[str, Counter] = defaultdict(Counter)


class Hang(BaseException):
    """Raised by the alarm: the case ran past TIME_LIMIT_S."""


def _alarm(signum, frame):
    raise Hang()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def attempt(cls: str, fn, expect: str | None = None, oracle=None):
    """Run ``fn()``; ``expect``: "error", "ok" or None (either). Returns (outcome, value or exception)."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
    before, value = _peak_rss_mb(), None
    try:
        value = fn()
        outcome = "ok"
    except KComplexityError as exc:
        outcome, value = "clear", exc
    except Hang:
        outcome = "hang"
    except Exception as exc:  # noqa: BLE001  (any other exception is what we count)
        outcome, value = "crash", exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if _peak_rss_mb() - before > RSS_GROWTH_LIMIT_MB:
        outcome = "crash"
        value = MemoryError(f"peak RSS grew by {_peak_rss_mb() - before:.0f} MB")
    if outcome == "ok" and (expect == "error" or (oracle is not None and not oracle(value))):
        outcome = "wrong"
    if outcome == "clear" and expect == "ok":
        outcome = "wrong"
    TALLY[cls]["tried"] += 1
    TALLY[cls][outcome] += 1
    assert outcome in ("ok", "clear"), f"{cls}: {outcome}: {value!r}"
    return outcome, value


class CliError(KComplexityError):
    """The command line exited 1 (user error) or 2 (usage) with its message last and no traceback."""


def run_cli(argv, capsys) -> int:
    """``kcomplexity ARGV`` in-process: 0, or CliError for a clean failure; anything else is a crash."""
    from kcomplexity import cli

    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    if "Traceback" in err or code not in (0, 1, 2):
        raise RuntimeError(f"exit {code} with a traceback: {err[-400:]}")
    if code == 1 and not (lines and lines[-1].startswith("kcomplexity: error:")):
        raise RuntimeError(f"exit 1 without a 'kcomplexity: error:' line: {err[-400:]}")
    if code:
        raise CliError(lines[-1] if lines else f"exit {code}")
    return code


def write_table(path: str) -> None:
    rows = ["| input class | cases tried | success | clear errors | crashes | hangs | silent wrong results |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for cls in sorted(TALLY):
        t = TALLY[cls]
        rows.append(f"| {cls} | {t['tried']} | {t['ok']} | {t['clear']} | {t['crash']} | {t['hang']} | {t['wrong']} |")
    total = sum(TALLY.values(), Counter())
    rows.append(f"| **all** | {total['tried']} | {total['ok']} | {total['clear']} | {total['crash']} | "
                f"{total['hang']} | {total['wrong']} |")
    with open(path, "w") as f:
        f.write("\n".join(rows) + "\n")


def maybe_write_table() -> None:
    if os.environ.get("KC_HOSTILE_TABLE"):
        write_table(os.environ["KC_HOSTILE_TABLE"])


# ---------------------------------------------------------------- crafted .pt files
class FakeStorage:
    """A storage reference as torch.save writes it: ("storage", <kind>Storage, key, "cpu", numel)."""

    def __init__(self, key: str, numel: int, kind: str = "FloatStorage"):
        self.key, self.numel, self.kind = key, numel, kind


class FakeView:
    """Pickles as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``."""

    def __init__(self, storage: FakeStorage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride))

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, (*self.args, False, collections.OrderedDict())


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return "storage", getattr(torch, obj.kind), obj.key, "cpu", obj.numel
        return None


def write_pt(path, obj, records: dict[str, bytes], compress: bool = False) -> None:
    """A zip ``.pt`` whose data.pkl holds ``obj`` (FakeViews for tensors) and whose records are given."""
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/byteorder", "little")
        for key, data in records.items():
            z.writestr(f"archive/data/{key}", data, zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
        z.writestr("archive/version", "3\n")
