-- CreateTable
CREATE TABLE "kommo_contact_leads" (
    "contact_id" INTEGER NOT NULL,
    "lead_ids" INTEGER[],
    "kommo_updated_at" INTEGER NOT NULL,
    "read_at" TIMESTAMPTZ(3) NOT NULL,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "kommo_contact_leads_pkey" PRIMARY KEY ("contact_id")
);

-- CreateTable
CREATE TABLE "kommo_lead_states" (
    "lead_id" INTEGER NOT NULL,
    "pipeline_id" INTEGER NOT NULL,
    "status_id" INTEGER NOT NULL,
    "responsible_user_id" INTEGER,
    "kommo_updated_at" INTEGER NOT NULL,
    "read_at" TIMESTAMPTZ(3) NOT NULL,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "kommo_lead_states_pkey" PRIMARY KEY ("lead_id")
);

-- CreateTable
CREATE TABLE "engagement_field_writes" (
    "entity_type" TEXT NOT NULL,
    "entity_id" INTEGER NOT NULL,
    "kommo_updated_at" INTEGER,
    "written_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "engagement_field_writes_pkey" PRIMARY KEY ("entity_type","entity_id")
);

-- CreateIndex
CREATE INDEX "kommo_contact_leads_recorded_at_idx" ON "kommo_contact_leads"("recorded_at");

-- CreateIndex
-- Without fastupdate: lookups by lead id run on every lead page forward sync reads, and a pending list
-- (filled by those same reads' inserts) would be scanned whole by each of them.
CREATE INDEX "kommo_contact_leads_lead_ids_idx" ON "kommo_contact_leads" USING GIN ("lead_ids") WITH (fastupdate = off);

-- CreateIndex
CREATE INDEX "kommo_lead_states_recorded_at_idx" ON "kommo_lead_states"("recorded_at");

-- CreateIndex
CREATE INDEX "engagement_field_writes_written_at_idx" ON "engagement_field_writes"("written_at");
