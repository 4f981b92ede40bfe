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
