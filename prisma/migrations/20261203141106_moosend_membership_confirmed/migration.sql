-- AlterTable
ALTER TABLE "moosend_memberships" ADD COLUMN     "confirmed_at" TIMESTAMPTZ(3);
