-- CreateTable
CREATE TABLE "suppressions" (
    "hash" TEXT NOT NULL,
    "key_check" TEXT NOT NULL,
    "erased_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "suppressions_pkey" PRIMARY KEY ("hash")
);
