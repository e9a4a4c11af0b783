-- Agent assignment: Prisma's interactive $transaction — UPDATE the order, INSERT the
-- agent's activity.
\set oid random(1, 200000)
\set agent random(1, 50)
BEGIN;
UPDATE "public"."orders" SET "assignedAgentId" = :agent, "updatedAt" = CURRENT_TIMESTAMP WHERE "public"."orders"."id" = :oid RETURNING "public"."orders"."id", "public"."orders"."assignedAgentId", "public"."orders"."updatedAt";
INSERT INTO "public"."agent_activities" ("agentId", "orderId", "action", "details", "createdAt") VALUES (:agent, :oid, 'ASSIGNED', 'bench', CURRENT_TIMESTAMP) RETURNING "public"."agent_activities"."id";
COMMIT;
