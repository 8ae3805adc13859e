"""gzip through ISA-L (``isal``) when installed: about 1.3-1.4x faster decompression.

``GZIP_ERRORS`` are the exceptions damaged gzip data raises with either.
"""

import zlib

try:
    from isal import igzip as gzip
    from isal.isal_zlib import error as _isal_error

    GZIP_ERRORS: tuple[type[Exception], ...] = (EOFError, zlib.error, gzip.BadGzipFile, _isal_error)
except ImportError:  # pragma: no cover - a platform without isal wheels
    import gzip

    GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)

__all__ = ["gzip", "GZIP_ERRORS"]
