"""`python -m bot`: the same as the `releasebot` command."""

from bot.cli import main

raise SystemExit(main())
