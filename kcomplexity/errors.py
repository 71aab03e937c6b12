"""One exception family: every user mistake raises a subclass of KComplexityError."""


class KComplexityError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class InputError(KComplexityError, ValueError):
    """The tensor or data given cannot be measured (empty, NaN/Inf, wrong dtype)."""


class SpecError(KComplexityError, ValueError):
    """An estimator spec, encoding or coder name, or one of its parameters is invalid."""


class CTMError(KComplexityError):
    """A CTM table is missing or cannot be read."""


class SourceError(KComplexityError):
    """A checkpoint, file or directory cannot be read safely."""


class UnsafePickleError(SourceError):
    """A pickle asked to run code or build objects outside the allowed set."""


class VerificationError(KComplexityError):
    """A lossless pipeline did not decode back to its input."""


class TooSmall(KComplexityError):
    """A coder cannot measure a tensor this small; the estimate is reported as skipped."""


class SkippedTensorsWarning(UserWarning):
    """Some tensors of a source were not read (e.g. tensors inside lists of a ``.pt``)."""


class CacheRecoveredWarning(UserWarning):
    """The result cache was corrupt: it was moved aside and a new one started."""


class BDMSaturationWarning(UserWarning):
    """A BDM sum has more blocks than there are distinct blocks: its value grows only
    logarithmically with size there (see ``details["saturation"]``)."""


class MissingExtraError(KComplexityError, ImportError):
    """An optional dependency (a ``pip install 'kcomplexity[EXTRA]'`` extra) is not installed."""


TORCH_CPU_HINT = ("; torch's CPU build: pip install torch --index-url https://download.pytorch.org/whl/cpu")


def require(module: str, extra: str, purpose: str):
    """Import ``module``, or raise MissingExtraError naming the extra that installs it.

    >>> require("json", "core", "reading JSON").__name__
    'json'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = TORCH_CPU_HINT if module.split(".")[0] == "torch" else ""
        raise MissingExtraError(f"{purpose} needs {module.split('.')[0]}, which is not installed ({exc}): "
                                f"pip install 'kcomplexity[{extra}]'{hint}") from None
