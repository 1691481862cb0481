"""Failed posts for `releasebot retry` and /retry: read them with their titles from the store."""

from __future__ import annotations

from bot.render.retry import FailedPost
from bot.store import Store


def failed_posts(
    store: Store, channel: str | None = None, delivery_id: int | None = None
) -> list[FailedPost]:
    """The failed deliveries (of one channel, or one by id), oldest first, with their titles."""
    posts = []
    for delivery in store.failed_deliveries(channel, delivery_id):
        stored = store.release(delivery.release_id)
        posts.append(
            FailedPost(
                delivery_id=delivery.id,
                channel=delivery.channel,
                release_id=delivery.release_id,
                title=stored.release.title if stored else "",
                error=delivery.error or "",
            )
        )
    return posts
