"""release-bot: press-release feeds to Telegram channels, with citations."""

__version__ = "0.1.0"
