-- When each stream's last full refresh completed, for pipelines that
-- refresh fully every so often; NULL when none is known.
ALTER TABLE streams ADD COLUMN full_refreshed timestamptz;
