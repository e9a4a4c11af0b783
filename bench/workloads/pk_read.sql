-- One order by primary key from a hot set of 1,000 (Prisma's findUnique): the cached
-- primary-key read of bench/run.sh --cache, run at 1 client for its p50 latency.
\set id random(1, 1000)
SELECT "id", "reference", "status", "shippingStatus", "total", "createdAt", "storeIdentifier", "assignedAgentId" FROM "public"."orders" WHERE "id" = :id LIMIT 1;
