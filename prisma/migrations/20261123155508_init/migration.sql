-- CreateTable
CREATE TABLE "received_events" (
    "id" BIGSERIAL NOT NULL,
    "source" TEXT NOT NULL,
    "dedupe_key" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "lead_id" INTEGER,
    "contact_id" INTEGER,
    "email" TEXT,
    "payload" JSONB NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(3),

    CONSTRAINT "received_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sync_outcomes" (
    "id" BIGSERIAL NOT NULL,
    "job_id" TEXT NOT NULL,
    "job_name" TEXT NOT NULL,
    "step" TEXT NOT NULL,
    "vendor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "reason" TEXT,
    "attempts" INTEGER NOT NULL,
    "vendor_status" INTEGER,
    "duration_ms" INTEGER,
    "lead_id" INTEGER,
    "contact_id" INTEGER,
    "email" TEXT,
    "idempotency_key" TEXT,
    "detail" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "sync_outcomes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "contact_links" (
    "kommo_contact_id" INTEGER NOT NULL,
    "email" TEXT NOT NULL,
    "loops_contact_id" TEXT,
    "loops_user_id" TEXT,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "contact_links_pkey" PRIMARY KEY ("kommo_contact_id")
);

-- CreateTable
CREATE TABLE "moosend_memberships" (
    "email" TEXT NOT NULL,
    "list_id" TEXT NOT NULL,
    "subscriber_id" TEXT,
    "kommo_contact_id" INTEGER,
    "subscribed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "removed_at" TIMESTAMPTZ(3),

    CONSTRAINT "moosend_memberships_pkey" PRIMARY KEY ("email","list_id")
);

-- CreateTable
CREATE TABLE "consents" (
    "email" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "reason" TEXT,
    "event_ref" TEXT,
    "changed_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "consents_pkey" PRIMARY KEY ("email")
);

-- CreateTable
CREATE TABLE "consent_events" (
    "id" BIGSERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "reason" TEXT,
    "event_ref" TEXT,
    "at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "consent_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "watermarks" (
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "watermarks_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "received_events_dedupe_key_key" ON "received_events"("dedupe_key");

-- CreateIndex
CREATE INDEX "received_events_lead_id_idx" ON "received_events"("lead_id");

-- CreateIndex
CREATE INDEX "sync_outcomes_lead_id_idx" ON "sync_outcomes"("lead_id");

-- CreateIndex
CREATE INDEX "sync_outcomes_email_idx" ON "sync_outcomes"("email");

-- CreateIndex
CREATE INDEX "sync_outcomes_status_updated_at_idx" ON "sync_outcomes"("status", "updated_at");

-- CreateIndex
CREATE UNIQUE INDEX "sync_outcomes_job_id_step_key" ON "sync_outcomes"("job_id", "step");

-- CreateIndex
CREATE INDEX "contact_links_email_idx" ON "contact_links"("email");

-- CreateIndex
CREATE INDEX "consent_events_email_at_idx" ON "consent_events"("email", "at");
