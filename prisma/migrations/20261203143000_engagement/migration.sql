-- CreateTable
CREATE TABLE "engagements" (
    "id" BIGSERIAL NOT NULL,
    "source" TEXT NOT NULL,
    "event_key" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "message_id" TEXT NOT NULL,
    "subject" TEXT,
    "origin" TEXT,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "applied_at" TIMESTAMPTZ(3),

    CONSTRAINT "engagements_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "engagement_marks" (
    "entity_type" TEXT NOT NULL,
    "entity_id" INTEGER NOT NULL,
    "key" TEXT NOT NULL,
    "kommo_id" INTEGER NOT NULL,
    "text" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "engagement_marks_pkey" PRIMARY KEY ("entity_type","entity_id","key")
);

-- CreateIndex
CREATE INDEX "engagements_email_idx" ON "engagements"("email");

-- CreateIndex
CREATE INDEX "engagements_applied_at_idx" ON "engagements"("applied_at");

-- CreateIndex
CREATE UNIQUE INDEX "engagements_source_event_key_key" ON "engagements"("source", "event_key");
