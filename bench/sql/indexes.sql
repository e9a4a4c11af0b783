-- The seed plan's Phase 1 indexes and its order_summary_view (Phase 2.2), verbatim except
-- that CONCURRENTLY is dropped: nothing else uses the database while it loads.
\set ON_ERROR_STOP on
SET maintenance_work_mem = '256MB';
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- 1.1 Primary performance indexes
CREATE INDEX IF NOT EXISTS idx_orders_status ON orders(status);
CREATE INDEX IF NOT EXISTS idx_orders_store_identifier ON orders("storeIdentifier");
CREATE INDEX IF NOT EXISTS idx_orders_assigned_agent ON orders("assignedAgentId");
CREATE INDEX IF NOT EXISTS idx_orders_created_at ON orders("createdAt");
CREATE INDEX IF NOT EXISTS idx_orders_updated_at ON orders("updatedAt");
CREATE INDEX IF NOT EXISTS idx_orders_order_date ON orders("orderDate");
CREATE INDEX IF NOT EXISTS idx_customers_telephone ON customers(telephone);
CREATE INDEX IF NOT EXISTS idx_customers_wilaya ON customers(wilaya);
CREATE INDEX IF NOT EXISTS idx_order_items_title ON order_items(title);
CREATE INDEX IF NOT EXISTS idx_order_items_order_id ON order_items("orderId");
CREATE INDEX IF NOT EXISTS idx_agent_activities_agent_order ON agent_activities("agentId", "orderId");
CREATE INDEX IF NOT EXISTS idx_agent_activities_created_at ON agent_activities("createdAt");
CREATE INDEX IF NOT EXISTS idx_notifications_user_read ON notifications("userId", "isRead");
CREATE INDEX IF NOT EXISTS idx_orders_status_store ON orders(status, "storeIdentifier");
CREATE INDEX IF NOT EXISTS idx_orders_agent_status ON orders("assignedAgentId", status);
CREATE INDEX IF NOT EXISTS idx_orders_created_status ON orders("createdAt", status);

-- 1.2 Search optimization indexes
CREATE INDEX IF NOT EXISTS idx_orders_reference_gin ON orders USING gin(reference gin_trgm_ops);
CREATE INDEX IF NOT EXISTS idx_customers_name_gin ON customers USING gin("fullName" gin_trgm_ops);
CREATE INDEX IF NOT EXISTS idx_customers_phone_gin ON customers USING gin(telephone gin_trgm_ops);

-- 2.2 Pre-computed order summary view
CREATE OR REPLACE VIEW order_summary_view AS
SELECT
    o.id,
    o.reference,
    o.status,
    o."shippingStatus",
    o.total,
    o."createdAt",
    o."storeIdentifier",
    o."assignedAgentId",
    c."fullName" as customer_name,
    c.telephone as customer_phone,
    c.wilaya as customer_wilaya,
    u.name as agent_name,
    u."agentCode" as agent_code,
    (SELECT COUNT(*) FROM order_items oi WHERE oi."orderId" = o.id) as items_count
FROM orders o
LEFT JOIN customers c ON o."customerId" = c.id
LEFT JOIN users u ON o."assignedAgentId" = u.id;

VACUUM (ANALYZE) users, customers, orders, order_items, agent_activities, notifications;
