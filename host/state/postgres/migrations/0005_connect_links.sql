-- Connect links that connected their source, so that each connects once
-- whichever host it reaches; kept a while past their expiry.
CREATE TABLE connect_links (
    id       text PRIMARY KEY,
    source   text NOT NULL,
    used     timestamptz NOT NULL DEFAULT now(),
    expires  timestamptz NOT NULL
);
