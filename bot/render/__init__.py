"""Pure renderers: citations in ten styles and the Telegram HTML helpers every post goes through."""
