"""Jobs: the lifecycle run end to end — ``nightly`` (ingest, review, retain, record) and the
``demo`` on generated logs. Library functions returning result objects; the CLI prints them."""
