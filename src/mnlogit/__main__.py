"""``python -m mnlogit`` is the ``mnlogit`` command."""

from mnlogit.cli import main

raise SystemExit(main())
