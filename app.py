"""The chat page: ``python app.py [--host H] [--port P]``, the same as ``pudong-qa serve``.

The page lives in the package (``pudong_qa.web``); this file only keeps the familiar entry point.
"""

import sys

from pudong_qa.cli import main

if __name__ == "__main__":
    main(["serve", *sys.argv[1:]])
