"""``python -m kgrec.cli``: the ``kgrec`` command."""

from kgrec.cli import main

main()
