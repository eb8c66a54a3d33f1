-- The guide's rollback, written for the differential tests from the guide and ROLLBACK.md §2–3,
-- independently of rehearse. Run with psql -X -v ON_ERROR_STOP=1 and the variables
--   legacy          on: the shipped script: its statement order (services UPDATE and column
--                   drops before the DELETE) and its DISTINCT ON keeper;
--                   off: the documented policy, in 02_rollback.sql's order (DELETEs first)
--   delete_orphans  on: the orphan DELETE (last for the shipped script)
--   db_collation    (optional, any value) legacy orders version in the database's collation, as
--                   shipped; unset: in C, the order rehearse uses without --collation
-- Ties that PostgreSQL would settle arbitrarily (H5 under legacy) are settled by the smallest
-- id, which is the keeper that rehearse pins.
BEGIN;

\if :legacy
DROP INDEX IF EXISTS idx_model_id_version;
DROP INDEX IF EXISTS idx_model_id_version_status;
DROP INDEX IF EXISTS idx_service_model_version;
ALTER TABLE models DROP CONSTRAINT IF EXISTS uq_model_id_version;
UPDATE services SET model_id = model_id WHERE model_id IN (SELECT model_id FROM models);
ALTER TABLE services DROP COLUMN model_version, DROP COLUMN version_updated_at;
\if :{?db_collation}
-- As shipped: version in the column's (else the database's) collation.
CREATE TEMP TABLE keepers AS
SELECT DISTINCT ON (model_id) id
FROM models
ORDER BY model_id, CASE WHEN version_status = 'active' THEN 1 ELSE 2 END, version DESC, id;
\else
CREATE TEMP TABLE keepers AS
SELECT DISTINCT ON (model_id) id
FROM models
ORDER BY model_id, CASE WHEN version_status = 'active' THEN 1 ELSE 2 END, version COLLATE "C" DESC, id;
\endif
DELETE FROM models WHERE id NOT IN (SELECT id FROM keepers);
ALTER TABLE models DROP COLUMN version_status, DROP COLUMN release_notes, DROP COLUMN is_immutable;
ALTER TABLE models ADD CONSTRAINT models_model_id_key UNIQUE (model_id);
\if :delete_orphans
DELETE FROM services WHERE model_id NOT IN (SELECT model_id FROM models);
\endif
\else
-- Documented: semantic-version precedence on MAJOR[.MINOR[.PATCH]][-PRERELEASE].
CREATE TEMP TABLE ranked AS
SELECT m.id, m.model_id, m.version, m.created_at,
       lower(btrim(m.version_status, ' ')) = 'active' AS active,
       p.parts IS NOT NULL AS parsed,
       coalesce(p.parts[1]::numeric, 0) AS major,
       coalesce(p.parts[2]::numeric, 0) AS minor,
       coalesce(p.parts[3]::numeric, 0) AS patch,
       p.parts[4] IS NULL AS is_release,
       -- Pre-release identifiers as one byte-comparable text: numeric ones zero-padded behind
       -- '0', alphanumeric ones behind '1', joined by chr(1) so that a prefix sorts first.
       (SELECT string_agg(CASE WHEN x ~ '^[0-9]+$' THEN '0' || lpad(x, 30, '0') ELSE '1' || x END, chr(1) ORDER BY n)
        FROM unnest(string_to_array(p.parts[4], '.')) WITH ORDINALITY AS t(x, n)) COLLATE "C" AS pre,
       convert_to(m.version, 'UTF8') AS version_bytes
FROM models m
LEFT JOIN LATERAL (
  SELECT regexp_match(m.version, '^[vV]?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$') AS parts
) p ON true;

CREATE TEMP TABLE keepers AS
WITH groups AS (SELECT model_id, bool_or(active) AS any_active FROM ranked GROUP BY model_id),
candidates AS (
  SELECT r.*, g.any_active AS latest
  FROM ranked r JOIN groups g ON g.model_id IS NOT DISTINCT FROM r.model_id
  WHERE r.active OR NOT g.any_active
)
SELECT DISTINCT ON (model_id) id
FROM candidates
ORDER BY model_id,
  parsed DESC,
  CASE WHEN latest THEN major END DESC NULLS LAST, CASE WHEN NOT latest THEN major END ASC NULLS LAST,
  CASE WHEN latest THEN minor END DESC NULLS LAST, CASE WHEN NOT latest THEN minor END ASC NULLS LAST,
  CASE WHEN latest THEN patch END DESC NULLS LAST, CASE WHEN NOT latest THEN patch END ASC NULLS LAST,
  CASE WHEN latest THEN is_release END DESC NULLS LAST, CASE WHEN NOT latest THEN is_release END ASC NULLS LAST,
  CASE WHEN latest AND parsed THEN pre END DESC NULLS LAST, CASE WHEN NOT latest AND parsed THEN pre END ASC NULLS LAST,
  CASE WHEN latest AND NOT parsed THEN version_bytes END DESC NULLS LAST,
  CASE WHEN NOT latest AND NOT parsed THEN version_bytes END ASC NULLS LAST,
  CASE WHEN latest THEN created_at END DESC NULLS LAST, CASE WHEN NOT latest THEN created_at END ASC NULLS LAST,
  id;

DELETE FROM models WHERE id NOT IN (SELECT id FROM keepers);
\if :delete_orphans
DELETE FROM services WHERE model_id NOT IN (SELECT model_id FROM models);
\endif
DROP INDEX IF EXISTS idx_model_id_version;
DROP INDEX IF EXISTS idx_model_id_version_status;
DROP INDEX IF EXISTS idx_service_model_version;
ALTER TABLE models DROP CONSTRAINT IF EXISTS uq_model_id_version;
ALTER TABLE services DROP COLUMN model_version, DROP COLUMN version_updated_at;
ALTER TABLE models DROP COLUMN version_status, DROP COLUMN release_notes, DROP COLUMN is_immutable;
ALTER TABLE models ADD CONSTRAINT models_model_id_key UNIQUE (model_id);
\endif

COMMIT;
