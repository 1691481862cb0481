"""The SQLite schema as an ordered list of sqlite-utils migrations."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.feeds.language import release_language
from bot.render.tokens import scrub_tokens

migrations = Migrations("releasebot")


@migrations()
def m001_initial(db: Database) -> None:
    """Feeds with their fetch state, releases with FTS, channels, routes and the outbox."""
    db.execute(
        """
        CREATE TABLE feeds (
            name TEXT PRIMARY KEY,
            url TEXT NOT NULL,              -- as configured
            current_url TEXT NOT NULL,      -- after permanent redirects
            title TEXT NOT NULL DEFAULT '',
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            last_success TEXT,
            last_error TEXT,
            last_error_at TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            next_poll TEXT
        )"""
    )
    db.execute(
        """
        CREATE TABLE releases (
            id INTEGER PRIMARY KEY,
            feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE,
            key TEXT NOT NULL,
            title TEXT NOT NULL,
            link TEXT NOT NULL,
            url TEXT NOT NULL,
            published TEXT,                 -- ISO date, or datetime with the publisher's offset
            updated TEXT,
            sort_at TEXT NOT NULL,          -- UTC instant: published, else first seen
            author TEXT NOT NULL,
            feed_author TEXT NOT NULL,
            feed_title TEXT NOT NULL,
            summary TEXT NOT NULL,
            language TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            changed_at TEXT,
            UNIQUE (feed, key)
        )"""
    )
    db.execute("CREATE INDEX releases_feed_url ON releases (feed, url)")
    db.execute("CREATE INDEX releases_url ON releases (url)")
    db.execute("CREATE INDEX releases_sort ON releases (sort_at DESC, id)")
    db.table("releases").enable_fts(["title", "summary"], fts_version="FTS5", create_triggers=True)
    db.execute(
        """
        CREATE TABLE channels (
            name TEXT PRIMARY KEY,
            chat TEXT NOT NULL,             -- as configured: @username or numeric id
            chat_id INTEGER,                -- numeric id, once known
            paused INTEGER NOT NULL DEFAULT 0,
            pause_error TEXT
        )"""
    )
    db.execute(
        """
        CREATE TABLE routes (
            feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE,
            channel TEXT NOT NULL REFERENCES channels(name) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            backlog INTEGER NOT NULL,
            backlog_done INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (feed, channel)
        )"""
    )
    db.execute(
        """
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            release_id INTEGER NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
            channel TEXT NOT NULL REFERENCES channels(name) ON DELETE CASCADE,
            dedupe TEXT NOT NULL,           -- canonical URL, so cross-posts reach a chat once
            state TEXT NOT NULL DEFAULT 'pending',
            message_id INTEGER,
            error TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            not_before TEXT,                -- retry backoff
            needs_edit INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            UNIQUE (channel, dedupe)
        )"""
    )
    db.execute("CREATE INDEX deliveries_state ON deliveries (state, id)")
    db.execute("CREATE INDEX deliveries_release ON deliveries (release_id)")


@migrations()
def m002_releases_by_feed_and_date(db: Database) -> None:
    """The newest releases of one feed without sorting all of them (/latest in a channel)."""
    db.execute("CREATE INDEX releases_feed_sort ON releases (feed, sort_at DESC, id DESC)")


@migrations()
def m003_releases_by_feed(db: Database) -> None:
    """A feed's first and last release id at once: bounds a scoped full-text search."""
    db.execute("CREATE INDEX releases_feed_id ON releases (feed, id)")


@migrations()
def m004_drop_links_that_are_not_http(db: Database) -> None:
    """Releases stored before links were checked may carry `javascript:` or `data:` links;
    citations fall back to the link, so blank every one that is not http(s)."""
    db.execute(
        "UPDATE releases SET link = '' WHERE link != ''"
        " AND lower(ltrim(link)) NOT LIKE 'http://%' AND lower(ltrim(link)) NOT LIKE 'https://%'"
    )


@migrations()
def m005_scrub_stored_tokens(db: Database) -> None:
    """Versions before the token was redacted everywhere stored Telegram's error texts with
    it (lower-cased, so matching the token by value missed it): blank every token-shaped run
    in the stored errors, whichever token it was."""
    for table, column in (
        ("channels", "pause_error"),
        ("deliveries", "error"),
        ("feeds", "last_error"),
    ):
        rows = db.execute(
            f"SELECT rowid, {column} FROM {table} WHERE {column} IS NOT NULL"  # noqa: S608
        ).fetchall()
        for rowid, text in rows:
            scrubbed = scrub_tokens(text)
            if scrubbed != text:
                db.execute(
                    f"UPDATE {table} SET {column} = ? WHERE rowid = ?",  # noqa: S608
                    [scrubbed, rowid],
                )


@migrations()
def m006_delivery_edit_budget(db: Database) -> None:
    """What an edit needs to be worth its call and to reach its message: the fingerprint of
    the post as the chat shows it, the chat it was sent to (a group that became a supergroup
    keeps its old messages, under ids that mean other messages in the new chat), and how many
    edits the post had in its current day (at most a few per day).

    From here on `needs_edit` counts the noticeable changes not yet edited in (it was 0 or
    1), so a change recorded while an edit is under way is not settled by that edit.
    """
    db.execute("ALTER TABLE deliveries ADD COLUMN shown_hash TEXT")
    db.execute("ALTER TABLE deliveries ADD COLUMN sent_chat TEXT")
    db.execute("ALTER TABLE deliveries ADD COLUMN edit_window TEXT")
    db.execute("ALTER TABLE deliveries ADD COLUMN edits_in_window INTEGER NOT NULL DEFAULT 0")


@migrations()
def m007_feed_error_permanent(db: Database) -> None:
    """Whether a feed's last error is permanent (404, not a feed...: someone must act) or may
    pass (503, a timeout), so `status` and /feeds can say which. Errors stored before it are
    classified by their text, as the versions that stored them wrote it."""
    db.execute("ALTER TABLE feeds ADD COLUMN last_error_permanent INTEGER NOT NULL DEFAULT 0")
    db.execute(
        "UPDATE feeds SET last_error_permanent = 1 WHERE last_error IN"
        " ('HTTP 401', 'HTTP 403', 'HTTP 404', 'HTTP 410', 'entity declarations refused')"
        " OR last_error LIKE 'not a feed: %' OR last_error LIKE 'body larger than %'"
        " OR last_error LIKE '% resolves to the non-public address %'"
        " OR last_error LIKE 'unsupported Content-Encoding %'"
        " OR last_error LIKE 'invalid URL: %' OR last_error LIKE 'file not found: %'"
        " OR last_error LIKE 'redirect to a non-HTTP URL: %'"
        " OR last_error = 'too many redirects'"
    )


@migrations()
def m008_one_sort_key(db: Database) -> None:
    """Releases sort by `bot.feeds.order.sort_key`, as `preview` does: a date-only value at
    noon UTC (it was 00:00, so `/latest` and `preview` disagreed), and an undated release
    below every dated one, by first seen ('-' before the instant; it was the first-seen
    instant itself, so an old undated page from a backlog headed every list)."""
    db.execute(
        "UPDATE releases SET sort_at = coalesce(published, updated) || 'T12:00:00.000000Z'"
        " WHERE length(coalesce(published, updated)) = 10"
    )
    db.execute(
        "UPDATE releases SET sort_at = '-' || first_seen"
        " WHERE published IS NULL AND updated IS NULL"
    )


@migrations()
def m009_deliveries_to_edit(db: Database) -> None:
    """The sent posts owed an edit, by channel. Every round looks for them (which channels
    have work, then each working channel's edits); without this index each look reads every
    post ever sent, so a tick would slow down as the outbox grows, however little is owed."""
    db.execute(
        "CREATE INDEX deliveries_to_edit ON deliveries (channel, id)"
        " WHERE state = 'sent' AND needs_edit > 0"
    )


# English stems (vaccines finds vaccine), accents folded (medicacion finds medicación).
SEARCH_TOKENIZER = "porter unicode61 remove_diacritics 2"


@migrations()
def m010_search_stems_and_accents(db: Database) -> None:
    """Rebuild the full-text index with a stemming, accent-folding tokenizer. m001 made it
    with FTS5's default (unicode61 remove_diacritics 1: no stems), so `/search vaccines`
    missed "vaccine". Same table and triggers as sqlite-utils' enable_fts made, by hand:
    enable_fts runs executescript, which would commit halfway through this migration."""
    for trigger in ("releases_ai", "releases_ad", "releases_au"):
        db.execute(f"DROP TRIGGER IF EXISTS [{trigger}]")
    db.execute("DROP TABLE IF EXISTS [releases_fts]")
    db.execute(
        "CREATE VIRTUAL TABLE [releases_fts] USING FTS5 ([title], [summary],"
        f" tokenize='{SEARCH_TOKENIZER}', content=[releases])"
    )
    db.execute(
        "CREATE TRIGGER [releases_ai] AFTER INSERT ON [releases] BEGIN"
        " INSERT INTO [releases_fts] (rowid, [title], [summary])"
        " VALUES (new.rowid, new.[title], new.[summary]); END"
    )
    db.execute(
        "CREATE TRIGGER [releases_ad] AFTER DELETE ON [releases] BEGIN"
        " INSERT INTO [releases_fts] ([releases_fts], rowid, [title], [summary])"
        " VALUES ('delete', old.rowid, old.[title], old.[summary]); END"
    )
    db.execute(
        "CREATE TRIGGER [releases_au] AFTER UPDATE ON [releases] BEGIN"
        " INSERT INTO [releases_fts] ([releases_fts], rowid, [title], [summary])"
        " VALUES ('delete', old.rowid, old.[title], old.[summary]);"
        " INSERT INTO [releases_fts] (rowid, [title], [summary])"
        " VALUES (new.rowid, new.[title], new.[summary]); END"
    )
    db.execute("INSERT INTO [releases_fts] ([releases_fts]) VALUES ('rebuild')")


@migrations()
def m011_release_languages(db: Database) -> None:
    """Releases stored before languages were checked keep what the feed declared: NIDA's
    Spanish releases say `en`, a Brazilian feed's say nothing, so MLA and Chicago title-cased
    them. Derive each stored language again as ingest now does (URL path, then the stored tag
    unless the text clearly says otherwise; bot.feeds.language). A re-read release keeps its
    row while its title and summary are unchanged, so only this reaches those rows."""
    rows = db.execute("SELECT id, url, language, title, summary FROM releases").fetchall()
    for release_id, url, stored, title, summary in rows:
        language = release_language(url=url, declared=(stored,), title=title, summary=summary)
        if language != stored:
            db.execute("UPDATE releases SET language = ? WHERE id = ?", [language, release_id])


@migrations()
def m012_release_cite_keys(db: Database) -> None:
    """Each release's citation key (BibTeX key and CSL id), unique across the database and
    kept for good once given: `nasa2018nasa`, then `nasa2018nasaa`, `nasa2018nasab` ... for
    later releases with the same base, in the order they were stored. Releases stored before
    this get theirs, in id order, when the config is next applied (the base needs the
    publisher's short name from the config)."""
    db.execute("ALTER TABLE releases ADD COLUMN cite_key TEXT")
    db.execute("CREATE UNIQUE INDEX releases_cite_key ON releases (cite_key)")


@migrations()
def m013_release_categories(db: Database) -> None:
    """Each release's categories (route filters match on them) as a JSON array of strings:
    any character may occur in a category, and SQLite reads JSON with json_each. Releases
    stored before this have none (`[]`) until their feed lists them again."""
    db.execute("ALTER TABLE releases ADD COLUMN categories TEXT NOT NULL DEFAULT '[]'")


@migrations()
def m014_admin_model(db: Database) -> None:
    """Feeds, chats and routes all live here, whoever made them (../shared/design/admin.md):
    `origin` says whether the config file provisioned a row (`config`; `retired` once the
    file no longer names it, kept for its releases and posts) or an admin made it in a chat
    (`chat`). The config's settings are stored too, so one query builds the routing view
    whatever made each entry. Routes gain their own settings (NULL: the chat's apply),
    keyword filters (JSON lists of terms) and a pause; feeds a pause and an interval; chats
    a forum topic. `audit` records every change with who made it, in the change's own
    transaction. A route removed by a sync or in a chat cancels its pending posts (state
    `cancelled`) instead of deleting them, so `status` can say what was never sent."""
    for table in ("feeds", "channels", "routes"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN origin TEXT NOT NULL DEFAULT 'config'")
    for table in ("feeds", "channels"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN position INTEGER NOT NULL DEFAULT 0")
    for column in (
        "paused INTEGER NOT NULL DEFAULT 0",
        "interval REAL",
        "publisher TEXT NOT NULL DEFAULT ''",
        "short_name TEXT NOT NULL DEFAULT ''",
        "timezone TEXT",
        "language TEXT NOT NULL DEFAULT ''",
    ):
        db.execute(f"ALTER TABLE feeds ADD COLUMN {column}")
    for column in (
        "thread_id INTEGER",
        "citation_style TEXT",
        "summary_length INTEGER",
        "link_preview INTEGER",
        "silent INTEGER",
        "backlog INTEGER",
    ):
        db.execute(f"ALTER TABLE channels ADD COLUMN {column}")
    for column in (
        "paused INTEGER NOT NULL DEFAULT 0",
        "citation_style TEXT",
        "summary_length INTEGER",
        "link_preview INTEGER",
        "silent INTEGER",
        "include TEXT NOT NULL DEFAULT '[]'",
        "exclude TEXT NOT NULL DEFAULT '[]'",
    ):
        db.execute(f"ALTER TABLE routes ADD COLUMN {column}")
    db.execute(
        """
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            user_id INTEGER,                -- NULL: the config file or the command line
            user_name TEXT NOT NULL,
            chat TEXT NOT NULL,             -- the channel managed, '' for a bot-wide change
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            before TEXT NOT NULL,
            after TEXT NOT NULL
        )"""
    )


@migrations()
def m015_pending_actions(db: Database) -> None:
    """What an admin command's buttons act on (bot/store/pending.py): a button's
    callback_data names only an unguessable token, and the action it stands for (its
    kind, payload, the chat managed and who asked) stays here, so a forged callback can
    act on nothing else. Rows older than their ten minutes are pruned as new ones come."""
    db.execute(
        """
        CREATE TABLE pending_actions (
            token TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,          -- JSON object
            chat_id INTEGER NOT NULL,       -- the chat managed
            thread_id INTEGER,              -- its forum topic (NULL: the chat itself)
            user_id INTEGER,                -- who asked (NULL: a channel post, an anonymous admin)
            created_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX pending_actions_created ON pending_actions (created_at)")


@migrations()
def m016_studies(db: Database) -> None:
    """The study behind each release (issue 14). `release_studies` lists the identifiers a
    release points to, best first (found in the feed at ingest, or on its web page later);
    `studies` is the lookup cache, one row per identifier key (`StudyRef.key`): what the DOI
    resolver or NCBI answered, so each identifier is looked up once, a 404 is not asked again
    for a day, and a timeout is retried with backoff. `feeds.fetch_page` turns page reading
    on per feed; `releases.page_checked` records that a release's page was read (or given
    up on), so it is read once."""
    db.execute(
        """
        CREATE TABLE release_studies (
            release_id INTEGER NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,      -- 0 is the study the post shows
            kind TEXT NOT NULL,             -- doi, pmid, pmcid
            value TEXT NOT NULL,            -- as written ("10.1523/JNEUROSCI.4977-13.2014")
            ref TEXT NOT NULL,              -- StudyRef.key: "doi:10.1523/jneurosci.4977-13.2014"
            source TEXT NOT NULL,           -- feed, page
            PRIMARY KEY (release_id, position)
        )"""
    )
    db.execute("CREATE INDEX release_studies_ref ON release_studies (ref)")
    db.execute(
        """
        CREATE TABLE studies (
            ref TEXT PRIMARY KEY,           -- StudyRef.key
            state TEXT NOT NULL,            -- pending, found, not_registered, failed
            data TEXT,                      -- the Study as JSON (bot/store/codec.py), when found
            doi TEXT,                       -- the DOI it resolved to, lowercased (for /search doi:)
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,                     -- the last failure, for status and logs
            checked_at TEXT,                -- the last answer (instant_text)
            retry_at TEXT                   -- not asked again before this (404: a day later)
        )"""
    )
    db.execute("CREATE INDEX studies_doi ON studies (doi)")
    db.execute("CREATE INDEX studies_due ON studies (state, retry_at)")
    db.execute("ALTER TABLE feeds ADD COLUMN fetch_page INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE releases ADD COLUMN page_checked TEXT")


@migrations()
def m017_release_pages_index(db: Database) -> None:
    """Releases by feed and first sighting: the release pages job (bot/services/
    study_pages.py) asks each round for the unread pages of the releases first seen within
    the edit window; by (feed, id) it read every release of those feeds (~10 ms a round per
    10,000 releases), by this only the recent ones."""
    db.execute("CREATE INDEX releases_feed_first_seen ON releases (feed, first_seen)")
