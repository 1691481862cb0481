"""`python -m bot`: the same as the `releasebot` command."""

import sys

# Optional extras our libraries import whenever they are installed, which the bot never uses:
# sqlite-utils maps numpy's types to columns, httpcore's locks serve trio event loops, httpx
# offers its own command line (click, rich, pygments). Together about a quarter of the CPU a
# `run` spends starting. A None entry makes their `import` fail as if they were absent, which
# each of those libraries expects; one already imported (never here) is left alone.
for _unused in ("numpy", "trio", "httpx._main"):
    sys.modules.setdefault(_unused, None)  # type: ignore[arg-type]

from bot.cli import main  # noqa: E402  (after the lines above, which must come first)

raise SystemExit(main())
