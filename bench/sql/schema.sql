-- The seed plan's schema (shared/seed-database-performance-plan.md), as a Prisma app would
-- have created it: quoted camelCase columns, text enums, timestamp(3).
-- Extra columns the plan does not name are invented so its queries have something to read.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

DROP VIEW IF EXISTS order_summary_view;
DROP TABLE IF EXISTS bench_meta, notifications, agent_activities, order_items, orders, customers, users CASCADE;

CREATE TABLE users (
    id          serial PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL UNIQUE,
    "agentCode" text UNIQUE,
    role        text NOT NULL DEFAULT 'AGENT',          -- ADMIN | MANAGER | AGENT
    "isActive"  boolean NOT NULL DEFAULT true,
    "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE customers (
    id          serial PRIMARY KEY,
    "fullName"  text NOT NULL,
    telephone   text NOT NULL,
    wilaya      text NOT NULL,
    commune     text,
    address     text,
    "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE orders (
    id                serial PRIMARY KEY,
    reference         text NOT NULL UNIQUE,
    status            text NOT NULL DEFAULT 'PENDING',   -- PENDING | CONFIRMED | NO_ANSWER | POSTPONED | CANCELLED | SHIPPED | DELIVERED | RETURNED
    "shippingStatus"  text,                              -- NULL | READY | IN_TRANSIT | OUT_FOR_DELIVERY | DELIVERED | RETURNED
    total             numeric(12,2) NOT NULL,
    "shippingFee"     numeric(12,2) NOT NULL DEFAULT 0,
    note              text,
    "createdAt"       timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt"       timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "orderDate"       timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "storeIdentifier" text NOT NULL,
    "assignedAgentId" integer REFERENCES users(id),
    "customerId"      integer NOT NULL REFERENCES customers(id)
);

CREATE TABLE order_items (
    id         serial PRIMARY KEY,
    "orderId"  integer NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    title      text NOT NULL,
    sku        text,
    quantity   integer NOT NULL,
    price      numeric(12,2) NOT NULL
);

CREATE TABLE agent_activities (
    id          serial PRIMARY KEY,
    "agentId"   integer NOT NULL REFERENCES users(id),
    "orderId"   integer NOT NULL REFERENCES orders(id),
    action      text NOT NULL,                           -- ASSIGNED | CALLED | CONFIRMED | NO_ANSWER | POSTPONED | CANCELLED
    details     text,
    "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE notifications (
    id          serial PRIMARY KEY,
    "userId"    integer NOT NULL REFERENCES users(id),
    "isRead"    boolean NOT NULL DEFAULT false,
    type        text NOT NULL DEFAULT 'ORDER_ASSIGNED',
    message     text NOT NULL,
    "orderId"   integer,
    "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- The loader writes one row here when it has finished; run.sh reloads when it is missing or
-- when the checksum of bench/sql/*.sql differs.
CREATE TABLE bench_meta (key text PRIMARY KEY, value text NOT NULL);
