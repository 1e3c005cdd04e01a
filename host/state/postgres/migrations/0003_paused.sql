-- Pipelines an operator paused, so that no host runs them, with when.
CREATE TABLE paused (
    pipeline  text PRIMARY KEY,
    since     timestamptz NOT NULL DEFAULT now()
);
