-- CreateTable
CREATE TABLE "kommo_change_claims" (
    "id" BIGSERIAL NOT NULL,
    "entity_type" TEXT NOT NULL,
    "entity_id" INTEGER NOT NULL,
    "change" TEXT NOT NULL,
    "changed_at" INTEGER NOT NULL,
    "source" TEXT NOT NULL,
    "job_id" TEXT NOT NULL,
    "paired_with" TEXT,
    "duplicate" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "kommo_change_claims_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "kommo_change_claims_job_id_key" ON "kommo_change_claims"("job_id");

-- CreateIndex
CREATE INDEX "kommo_change_claims_entity_type_entity_id_changed_at_idx" ON "kommo_change_claims"("entity_type", "entity_id", "changed_at");

-- Claims a Kommo change for a job in one round trip (see packages/db/src/changeClaims.ts): one
-- entity's reports are decided one at a time (an advisory lock held to the end of the statement's
-- transaction), and each statement inside sees what the previous holder committed. A move of the
-- entity into another stage between two reports makes them two changes. The body's semicolons are
-- written as the escape 073 (octal): the offline migration runner (adapter-pg's executeScript)
-- splits a script at every semicolon, even inside a quoted function body.
CREATE FUNCTION claim_kommo_change(p_entity_type TEXT, p_entity_id INTEGER, p_change TEXT, p_changed_at INTEGER, p_source TEXT, p_job_id TEXT, p_tolerance INTEGER)
RETURNS TABLE (out_claimed BOOLEAN, out_paired_with TEXT)
LANGUAGE plpgsql VOLATILE AS E'DECLARE
  mine kommo_change_claims%ROWTYPE\073
  partner TEXT\073
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext(''kommo-claim:'' || p_entity_type || '':'' || p_entity_id))\073
  SELECT * INTO mine FROM kommo_change_claims WHERE job_id = p_job_id\073
  IF FOUND THEN
    RETURN QUERY SELECT NOT mine.duplicate, CASE WHEN mine.duplicate THEN mine.paired_with END\073
    RETURN\073
  END IF\073
  SELECT c.job_id INTO partner FROM kommo_change_claims c
  WHERE c.entity_type = p_entity_type AND c.entity_id = p_entity_id AND c.change = p_change
    AND c.source <> p_source AND c.paired_with IS NULL
    AND abs(c.changed_at - p_changed_at) <= p_tolerance
    AND NOT (p_change LIKE ''status:%'' AND EXISTS (
      SELECT 1 FROM kommo_change_claims m
      WHERE m.entity_type = c.entity_type AND m.entity_id = c.entity_id AND m.change LIKE ''status:%'' AND m.change <> c.change
        AND m.changed_at > least(c.changed_at, p_changed_at) AND m.changed_at < greatest(c.changed_at, p_changed_at)))
  ORDER BY abs(c.changed_at - p_changed_at), c.id
  LIMIT 1\073
  INSERT INTO kommo_change_claims (entity_type, entity_id, change, changed_at, source, job_id, paired_with, duplicate)
  VALUES (p_entity_type, p_entity_id, p_change, p_changed_at, p_source, p_job_id, partner, partner IS NOT NULL)\073
  IF partner IS NOT NULL THEN
    UPDATE kommo_change_claims SET paired_with = p_job_id WHERE job_id = partner\073
  END IF\073
  RETURN QUERY SELECT partner IS NULL, partner\073
END\073';
