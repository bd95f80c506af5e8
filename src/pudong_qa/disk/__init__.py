"""Files the package keeps on disk, read and written safely: rows of a ``.npy`` file read on
demand (``rowfile``), the cross-process lock (``locking``), append-only JSON-lines logs (``jsonlog``)."""
