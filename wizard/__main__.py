"""`python -m wizard` is the `qoltanba` command."""

from wizard.cli import main

raise SystemExit(main())
