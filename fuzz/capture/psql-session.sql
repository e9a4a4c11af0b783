\set ON_ERROR_STOP 0
SELECT version();
\d
CREATE TEMP TABLE t (id serial, body text, blob bytea);
INSERT INTO t (body, blob) VALUES ('a', '\x00ff'), (NULL, NULL), (repeat('x', 3000), NULL);
SELECT * FROM t \g
SELECT 1; SELECT 2; SELECT 'multi' AS statement;
BEGIN;
SAVEPOINT s;
SELECT 1/0;
ROLLBACK TO s;
COMMIT;
\copy t (body) FROM stdin
line one
line two
\.
\copy t TO stdout
SELECT $1::int \bind 42 \g
\lo_import /etc/hostname
\lo_export :LASTOID /dev/null
\lo_unlink :LASTOID
PREPARE p(int) AS SELECT $1 + 1;
EXECUTE p(1);
DEALLOCATE p;
SET search_path = public;
\x on
SELECT now(), current_user;
;
