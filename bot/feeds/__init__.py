"""Feed ingestion: fetch bodies, parse and normalise them into releases."""
