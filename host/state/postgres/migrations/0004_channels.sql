-- Change-signal channels: what a pipeline's source subscribed at its
-- service, which calls the host back at the channel's key.
CREATE TABLE channels (
    key            text PRIMARY KEY,
    id             text NOT NULL,
    pipeline       text NOT NULL,
    url            text NOT NULL,
    sealed         bytea NOT NULL,
    secret_field   text NOT NULL,
    max_body_bytes integer NOT NULL DEFAULT 0,
    streams        text[] NOT NULL,
    expires        timestamptz,
    watched        timestamptz NOT NULL,
    signaled       timestamptz
);
