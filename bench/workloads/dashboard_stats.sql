-- Dashboard statistics only: dashboard.sql without the viewer's unread-notifications count
-- (proxy.conf never caches notifications, `cache = false`), so every statement of it can be
-- answered from the result cache (bench/run.sh --cache). Counts and totals by status for one
-- store over the 30 days before the data's anchor (2026-11-24), and the same per agent.
\set store random(1, 20)
SELECT "status", COUNT(*) AS "_count", COALESCE(SUM("total"), 0) AS "_sum_total" FROM "public"."orders" WHERE ("storeIdentifier" = 'store_' || :store AND "createdAt" >= '2026-10-25 00:00:00'::timestamp(3)) GROUP BY "status";
SELECT "assignedAgentId", COUNT(*) AS "_count", COALESCE(SUM("total"), 0) AS "_sum_total", COUNT(*) FILTER (WHERE "status" = 'DELIVERED') AS "delivered", COUNT(*) FILTER (WHERE "status" IN ('CONFIRMED','SHIPPED','DELIVERED')) AS "confirmed" FROM "public"."orders" WHERE ("storeIdentifier" = 'store_' || :store AND "createdAt" >= '2026-10-25 00:00:00'::timestamp(3) AND "assignedAgentId" IS NOT NULL) GROUP BY "assignedAgentId";
