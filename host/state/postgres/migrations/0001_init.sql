-- Pipelines: the claim's fencing token and holder, and the run sequence.
-- A claim is a session-level advisory lock (lockNamespace, id) held by the
-- holder's own connection; holder_pid is that session's backend.
CREATE TABLE pipelines (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    fence       bigint NOT NULL DEFAULT 0,
    holder      text,
    holder_pid  integer,
    since       timestamptz,
    run_seq     bigint NOT NULL DEFAULT 0
);

-- Stream state: the checkpoint is opaque bytes, kept exactly.
CREATE TABLE streams (
    pipeline     text NOT NULL,
    stream       text NOT NULL,
    state        bytea,
    generation   bigint NOT NULL DEFAULT 0,
    full_refresh bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (pipeline, stream)
);

-- Credentials, sealed with AES-256-GCM; see state.Keyring.
CREATE TABLE credentials (
    source  text PRIMARY KEY,
    sealed  bytea NOT NULL
);

CREATE TABLE runs (
    pipeline  text NOT NULL,
    id        bigint NOT NULL,
    outcome   text NOT NULL,
    run       jsonb NOT NULL,
    PRIMARY KEY (pipeline, id)
);
CREATE INDEX runs_running ON runs (pipeline) WHERE outcome = 'running';
