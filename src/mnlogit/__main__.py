"""``python -m mnlogit`` runs the demo."""

from mnlogit.demo import main

raise SystemExit(main())
