-- Facts about this database file itself: which key store it is paired with, and
-- whether the upgrade to sealed replies has finished.
CREATE TABLE serene_meta (
    name  TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) STRICT, WITHOUT ROWID;
