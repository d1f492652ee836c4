-- Runs once, when the postgres service initialises an empty data volume
-- (/docker-entrypoint-initdb.d), as POSTGRES_USER. POSTGRES_DB (astroplane, the Astro
-- Plane store) is created by the image itself; these are Temporal's persistence and
-- visibility stores. The temporal service runs with SKIP_DB_CREATE=true and only sets
-- up the schemas in them.
CREATE DATABASE temporal;
CREATE DATABASE temporal_visibility;
