-- Editors sign in; articles are what they write; sessions hold sign-ins and CSRF tokens.
CREATE TABLE editors (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL
);

-- AUTOINCREMENT: a deleted article's id is never given to a new one, so an old link stays a 404.
CREATE TABLE articles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    body TEXT NOT NULL,
    author_id INTEGER NOT NULL REFERENCES editors (id),
    updated_by INTEGER NOT NULL REFERENCES editors (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL
);

CREATE TABLE sessions (
    token TEXT PRIMARY KEY,
    editor_id INTEGER REFERENCES editors (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
