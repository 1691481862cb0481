"""Telegram: the one adapter over python-telegram-bot, and the Application wiring."""
