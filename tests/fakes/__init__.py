"""Fake outside systems (feed server, Telegram Bot API) that tests run against."""
