-- Orders page: 50 orders with customer and agent names, filtered by status and store, newest
-- first, OFFSET paging over the first five pages, plus the total for the pager (Prisma's
-- findMany + count). Reads the seed plan's order_summary_view.
\set store random(1, 20)
\set st random(1, 4)
\set off random(0, 4) * 50
SELECT "id", "reference", "status", "shippingStatus", "total", "createdAt", "storeIdentifier", "assignedAgentId", "customer_name", "customer_phone", "customer_wilaya", "agent_name", "agent_code", "items_count" FROM "public"."order_summary_view" WHERE ("status" = (ARRAY['PENDING','CONFIRMED','NO_ANSWER','SHIPPED'])[:st] AND "storeIdentifier" = 'store_' || :store) ORDER BY "createdAt" DESC LIMIT 50 OFFSET :off;
SELECT COUNT(*) AS "_count" FROM "public"."orders" WHERE ("public"."orders"."status" = (ARRAY['PENDING','CONFIRMED','NO_ANSWER','SHIPPED'])[:st] AND "public"."orders"."storeIdentifier" = 'store_' || :store);
