"""``python -m yerbnet`` is the ``yerbnet`` command."""

from yerbnet.cli import main

raise SystemExit(main())
