"""The feed-fetching adapter: HTTP with httpx, address checks, DNS pinning.

It sits beside the pure parse code in bot/feeds/ and is the only package that talks HTTP.
"""
