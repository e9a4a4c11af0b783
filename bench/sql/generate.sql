-- Deterministic data for the seed plan's workload: every value is a hash of the row number
-- (hashint8extended), so two loads give identical tables. Data ends at the fixed anchor
-- 2026-11-24 00:00 and spans 540 days; the workloads' "last 30 days" are relative to it.
--   users 55 (50 agents + 5 admins/managers), customers 60,000, orders 200,000 over
--   20 stores and 58 wilayas, ~2.5 items per order, ~1.5 agent activities per assigned
--   order, 120,000 notifications.
\set ON_ERROR_STOP on
SET synchronous_commit = off;

CREATE OR REPLACE FUNCTION pg_temp.h(i bigint, salt bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT hashint8extended(i, salt) & 9223372036854775807 $$;
CREATE OR REPLACE FUNCTION pg_temp.u(i bigint, salt bigint) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (hashint8extended(i, salt) & 9223372036854775807)::double precision / 9223372036854775807 $$;

CREATE TEMP TABLE first_names AS SELECT row_number() OVER () AS n, v FROM unnest(ARRAY[
  'Amine','Yacine','Karim','Sofiane','Mehdi','Nabil','Walid','Riad','Hichem','Samir',
  'Farid','Khaled','Mourad','Bilal','Anis','Ilyes','Rachid','Omar','Adel','Said',
  'Amina','Sarah','Lina','Yasmine','Meriem','Nour','Imane','Khadija','Fatima','Asma',
  'Leila','Rania','Nadia','Samira','Houda','Soumia','Wafa','Dounia','Hanane','Lamia']) AS v;
CREATE TEMP TABLE last_names AS SELECT row_number() OVER () AS n, v FROM unnest(ARRAY[
  'Benali','Bouzid','Belkacem','Haddad','Mansouri','Saidi','Brahimi','Cherif','Djebbar','Ferhat',
  'Guendouz','Hamidi','Kaci','Larbi','Meziane','Nasri','Ouali','Rahmani','Slimani','Taleb',
  'Yahiaoui','Zerrouki','Amrani','Bensalem','Boudiaf','Chaoui','Dahmani','Benmoussa','Aissaoui','Touati',
  'Khelifi','Lounis','Maamar','Bouaziz','Hamdi','Benamar','Sahraoui','Kaddour','Belaid','Mekki']) AS v;
CREATE TEMP TABLE wilayas AS SELECT row_number() OVER () AS n, v FROM unnest(ARRAY[
  'Adrar','Chlef','Laghouat','Oum El Bouaghi','Batna','Bejaia','Biskra','Bechar','Blida','Bouira',
  'Tamanrasset','Tebessa','Tlemcen','Tiaret','Tizi Ouzou','Alger','Djelfa','Jijel','Setif','Saida',
  'Skikda','Sidi Bel Abbes','Annaba','Guelma','Constantine','Medea','Mostaganem','M''Sila','Mascara','Ouargla',
  'Oran','El Bayadh','Illizi','Bordj Bou Arreridj','Boumerdes','El Tarf','Tindouf','Tissemsilt','El Oued','Khenchela',
  'Souk Ahras','Tipaza','Mila','Ain Defla','Naama','Ain Temouchent','Ghardaia','Relizane','Timimoun','Bordj Badji Mokhtar',
  'Ouled Djellal','Beni Abbes','In Salah','In Guezzam','Touggourt','Djanet','El M''Ghair','El Meniaa']) AS v;
CREATE TEMP TABLE products AS SELECT row_number() OVER () AS n, v FROM unnest(ARRAY[
  'Montre connectee','Ecouteurs sans fil','Chargeur rapide','Coque telephone','Power bank 20000mAh',
  'Lampe LED','Mixeur','Seche-cheveux','Fer a lisser','Tondeuse barbe','Sac a main','Portefeuille cuir',
  'Lunettes de soleil','Parfum 100ml','Creme visage','Serum vitamine C','Baskets','Sandales','Robe ete',
  'Veste hiver','Jean slim','T-shirt coton','Survetement','Casquette','Tapis de priere','Couverture polaire',
  'Ustensiles cuisine','Poele antiadhesive','Cafetiere','Bouilloire electrique']) AS v;

-- users: ids 1..50 are agents, 51..55 admins and managers.
INSERT INTO users (id, name, email, "agentCode", role, "isActive", "createdAt", "updatedAt")
SELECT g,
       f.v || ' ' || l.v,
       'user' || g || '@example.dz',
       CASE WHEN g <= 50 THEN 'AG-' || lpad(g::text, 3, '0') END,
       CASE WHEN g <= 50 THEN 'AGENT' WHEN g <= 52 THEN 'ADMIN' ELSE 'MANAGER' END,
       g % 17 <> 0,
       timestamp '2025-01-01' + g * interval '3 days',
       timestamp '2025-01-01' + g * interval '3 days'
FROM generate_series(1, 55) g
JOIN first_names f ON f.n = 1 + pg_temp.h(g, 1) % 40
JOIN last_names  l ON l.n = 1 + pg_temp.h(g, 2) % 40;
SELECT setval('users_id_seq', 55);

-- customers: telephone's last eight digits are (id * 7919 + 12345678) mod 10^8, so a
-- pgbench script can compute a real customer's phone fragment without a lookup.
INSERT INTO customers (id, "fullName", telephone, wilaya, commune, address, "createdAt", "updatedAt")
SELECT g,
       f.v || ' ' || l.v,
       '0' || (5 + g % 3)::text || lpad(((g::bigint * 7919 + 12345678) % 100000000)::text, 8, '0'),
       w.v,
       w.v || ' centre ' || (1 + pg_temp.h(g, 4) % 12),
       'Cite ' || (1 + pg_temp.h(g, 5) % 500) || ' logements, bloc ' || chr(65 + (pg_temp.h(g, 6) % 20)::int),
       timestamp '2025-06-02' + (g::double precision / 60000) * interval '540 days' - interval '1 day',
       timestamp '2025-06-02' + (g::double precision / 60000) * interval '540 days'
FROM generate_series(1, 60000) g
JOIN first_names f ON f.n = 1 + pg_temp.h(g, 1) % 40
JOIN last_names  l ON l.n = 1 + pg_temp.h(g, 2) % 40
JOIN wilayas     w ON w.n = 1 + pg_temp.h(g, 3) % 58;
SELECT setval('customers_id_seq', 60000);

-- orders: ids grow with time (540 days up to the anchor), 20 stores 'store_1'..'store_20'.
INSERT INTO orders (id, reference, status, "shippingStatus", total, "shippingFee", note,
                    "createdAt", "updatedAt", "orderDate", "storeIdentifier", "assignedAgentId", "customerId")
SELECT g, 'CMD-' || lpad(g::text, 7, '0'), s.status,
       CASE s.status WHEN 'CONFIRMED' THEN 'READY'
                     WHEN 'SHIPPED' THEN (CASE WHEN g % 3 = 0 THEN 'OUT_FOR_DELIVERY' ELSE 'IN_TRANSIT' END)
                     WHEN 'DELIVERED' THEN 'DELIVERED' WHEN 'RETURNED' THEN 'RETURNED' END,
       (1500 + pg_temp.h(g, 12) % 235 * 100)::numeric(12,2),
       (CASE WHEN g % 5 = 0 THEN 0 ELSE 400 + pg_temp.h(g, 13) % 6 * 100 END)::numeric(12,2),
       CASE WHEN g % 9 = 0 THEN 'Appeler apres 17h' END,
       t.created, t.created + (pg_temp.h(g, 14) % 4320) * interval '1 minute',
       t.created - (pg_temp.h(g, 15) % 120) * interval '1 minute',
       'store_' || (1 + pg_temp.h(g, 16) % 20),
       CASE WHEN pg_temp.u(g, 17) < 0.92 THEN 1 + pg_temp.h(g, 18) % 50 END,
       1 + pg_temp.h(g, 19) % 60000
FROM generate_series(1, 200000) g
CROSS JOIN LATERAL (SELECT timestamp '2026-11-24' - interval '540 days'
                           + (g::double precision / 200000) * interval '540 days'
                           - (pg_temp.h(g, 10) % 60) * interval '1 minute' AS created) t
CROSS JOIN LATERAL (SELECT CASE
         WHEN x < 0.12 THEN 'PENDING'   WHEN x < 0.27 THEN 'CONFIRMED'
         WHEN x < 0.35 THEN 'NO_ANSWER' WHEN x < 0.40 THEN 'POSTPONED'
         WHEN x < 0.52 THEN 'CANCELLED' WHEN x < 0.64 THEN 'SHIPPED'
         WHEN x < 0.92 THEN 'DELIVERED' ELSE 'RETURNED' END AS status
       FROM (SELECT pg_temp.u(g, 11) AS x) q) s;
SELECT setval('orders_id_seq', 200000);

-- order_items: 1..4 per order (2.5 on average).
INSERT INTO order_items ("orderId", title, sku, quantity, price)
SELECT o, p.v, 'SKU-' || lpad((1000 + pg_temp.h(o * 8 + k, 21) % 9000)::text, 4, '0'),
       1 + (pg_temp.h(o * 8 + k, 22) % 10 = 0)::int + (pg_temp.h(o * 8 + k, 23) % 25 = 0)::int,
       (500 + pg_temp.h(o * 8 + k, 24) % 96 * 100)::numeric(12,2)
FROM generate_series(1, 200000) o
CROSS JOIN LATERAL generate_series(1, 1 + (pg_temp.h(o, 20) % 4)::int) k
JOIN products p ON p.n = 1 + pg_temp.h(o * 8 + k, 25) % 30;

-- agent_activities: ASSIGNED for each assigned order, then half of them a follow-up action.
INSERT INTO agent_activities ("agentId", "orderId", action, details, "createdAt")
SELECT a.agent, a.id, a.action, a.details, a.at FROM (
    SELECT o."assignedAgentId" AS agent, o.id, 'ASSIGNED' AS action, NULL AS details,
           o."createdAt" + interval '5 minutes' AS at, 1 AS seq
    FROM orders o WHERE o."assignedAgentId" IS NOT NULL
    UNION ALL
    SELECT o."assignedAgentId", o.id,
           (ARRAY['CALLED','CONFIRMED','NO_ANSWER','POSTPONED','CANCELLED'])[1 + pg_temp.h(o.id, 31) % 5],
           'appel ' || (1 + pg_temp.h(o.id, 32) % 3),
           o."createdAt" + (30 + pg_temp.h(o.id, 33) % 2000) * interval '1 minute', 2
    FROM orders o WHERE o."assignedAgentId" IS NOT NULL AND pg_temp.h(o.id, 30) % 2 = 0
) a ORDER BY a.at, a.id, a.seq;

-- notifications: 120,000, mostly to agents; older ones read.
INSERT INTO notifications ("userId", "isRead", type, message, "orderId", "createdAt")
SELECT CASE WHEN pg_temp.u(g, 40) < 0.95 THEN 1 + pg_temp.h(g, 41) % 50 ELSE 51 + pg_temp.h(g, 41) % 5 END,
       g < 117000 OR pg_temp.u(g, 42) < 0.3,
       (ARRAY['ORDER_ASSIGNED','ORDER_UPDATED','STATUS_CHANGED','REMINDER'])[1 + pg_temp.h(g, 43) % 4],
       'Commande CMD-' || lpad((1 + g * 5 / 3 % 200000)::text, 7, '0') || ' mise a jour',
       1 + g * 5 / 3 % 200000,
       timestamp '2026-11-24' - interval '540 days' + (g::double precision / 120000) * interval '540 days'
FROM generate_series(1, 120000) g;
