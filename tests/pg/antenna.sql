-- The Antenna tables of tests/fixtures/antenna-oracle/snapshot/SCHEMA.md as PostgreSQL DDL
-- (column names, types and nullability from that file; users_user gains the columns a real
-- database has and a snapshot leaves out unless --include-pii). Used by tests/pg_snapshot.rs.

CREATE TABLE main_occurrence (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "deployment_id" bigint,
  "determination_id" bigint,
  "event_id" bigint,
  "project_id" bigint,
  "determination_score" double precision
);

CREATE TABLE main_detection (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "bbox" jsonb,
  "timestamp" timestamp with time zone,
  "path" character varying,
  "frame_num" integer,
  "detection_time" timestamp with time zone,
  "detection_score" double precision,
  "similarity_vector" jsonb,
  "occurrence_id" bigint,
  "source_image_id" bigint NOT NULL,
  "detection_algorithm_id" bigint
);

CREATE TABLE main_classification (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "score" double precision,
  "timestamp" timestamp with time zone NOT NULL,
  "algorithm_id" bigint,
  "detection_id" bigint,
  "taxon_id" bigint,
  "category_map_id" bigint,
  "logits" double precision[],
  "scores" double precision[],
  "terminal" boolean NOT NULL,
  "applied_to_id" bigint
);

CREATE TABLE main_identification (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "occurrence_id" bigint NOT NULL,
  "taxon_id" bigint,
  "user_id" bigint,
  "withdrawn" boolean NOT NULL,
  "agreed_with_identification_id" bigint,
  "agreed_with_prediction_id" bigint,
  "comment" text NOT NULL
);

CREATE TABLE main_taxon (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "name" character varying NOT NULL,
  "rank" character varying NOT NULL,
  "active" boolean NOT NULL,
  "gbif_taxon_key" bigint,
  "authorship_date" date,
  "ordering" integer,
  "parent_id" bigint,
  "synonym_of_id" bigint,
  "display_name" character varying,
  "author" character varying NOT NULL,
  "bold_taxon_bin" character varying,
  "inat_taxon_id" bigint,
  "notes" text NOT NULL,
  "sort_phylogeny" bigint,
  "parents_json" jsonb NOT NULL,
  "search_names" character varying[],
  "common_name_en" character varying,
  "cover_image_credit" character varying,
  "cover_image_url" character varying,
  "fieldguide_id" character varying
);

CREATE TABLE ml_algorithm (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "name" character varying NOT NULL,
  "key" character varying NOT NULL,
  "description" text NOT NULL,
  "version" integer NOT NULL,
  "version_name" character varying,
  "category_map_id" bigint,
  "task_type" character varying,
  "uri" character varying
);

CREATE TABLE ml_algorithmcategorymap (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "data" jsonb NOT NULL,
  "labels" character varying[] NOT NULL,
  "version" character varying,
  "description" text,
  "labels_hash" bigint,
  "uri" character varying
);

CREATE TABLE main_sourceimage (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "path" character varying NOT NULL,
  "public_base_url" character varying,
  "timestamp" timestamp with time zone,
  "width" integer,
  "height" integer,
  "size" bigint,
  "last_modified" timestamp with time zone,
  "checksum" character varying,
  "checksum_algorithm" character varying,
  "deployment_id" bigint,
  "event_id" bigint,
  "project_id" bigint,
  "test_image" boolean NOT NULL,
  "uploaded_by_id" bigint,
  "detections_count" integer
);

CREATE TABLE main_event (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "group_by" character varying NOT NULL,
  "start" timestamp with time zone NOT NULL,
  "end" timestamp with time zone,
  "deployment_id" bigint,
  "project_id" bigint,
  "calculated_fields_updated_at" timestamp with time zone,
  "captures_count" integer,
  "detections_count" integer,
  "occurrences_count" integer
);

CREATE TABLE main_deployment (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "name" character varying NOT NULL,
  "description" text NOT NULL,
  "data_source_total_files" integer,
  "data_source_total_size" bigint,
  "data_source_subdir" character varying,
  "data_source_regex" character varying,
  "data_source_last_checked" timestamp with time zone,
  "latitude" double precision,
  "longitude" double precision,
  "image" character varying,
  "data_source_id" bigint,
  "device_id" bigint,
  "project_id" bigint,
  "research_site_id" bigint,
  "captures_count" integer,
  "detections_count" integer,
  "events_count" integer,
  "first_capture_timestamp" timestamp with time zone,
  "last_capture_timestamp" timestamp with time zone,
  "occurrences_count" integer,
  "taxa_count" integer
);

CREATE TABLE main_project (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "name" character varying NOT NULL,
  "description" text NOT NULL,
  "image" character varying,
  "active" boolean NOT NULL,
  "priority" integer NOT NULL,
  "owner_id" bigint,
  "feature_flags" jsonb NOT NULL,
  "default_filters_score_threshold" double precision NOT NULL,
  "default_processing_pipeline_id" bigint,
  "session_time_gap_seconds" integer NOT NULL,
  "draft" boolean NOT NULL
);

CREATE TABLE main_project_default_filters_include_taxa (
  "id" bigint PRIMARY KEY,
  "project_id" bigint NOT NULL,
  "taxon_id" bigint NOT NULL
);

CREATE TABLE main_project_default_filters_exclude_taxa (
  "id" bigint PRIMARY KEY,
  "project_id" bigint NOT NULL,
  "taxon_id" bigint NOT NULL
);

CREATE TABLE main_sourceimagecollection (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "name" character varying NOT NULL,
  "description" text NOT NULL,
  "method" character varying NOT NULL,
  "kwargs" jsonb,
  "project_id" bigint NOT NULL
);

CREATE TABLE main_sourceimagecollection_images (
  "id" bigint PRIMARY KEY,
  "sourceimagecollection_id" bigint NOT NULL,
  "sourceimage_id" bigint NOT NULL
);

CREATE TABLE main_taxalist (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "name" character varying NOT NULL,
  "description" text NOT NULL
);

CREATE TABLE main_taxalist_taxa (
  "id" bigint PRIMARY KEY,
  "taxalist_id" bigint NOT NULL,
  "taxon_id" bigint NOT NULL
);

CREATE TABLE main_taxalist_projects (
  "id" bigint PRIMARY KEY,
  "taxalist_id" bigint NOT NULL,
  "project_id" bigint NOT NULL
);

CREATE TABLE main_taxon_projects (
  "id" bigint PRIMARY KEY,
  "taxon_id" bigint NOT NULL,
  "project_id" bigint NOT NULL
);

CREATE TABLE main_s3storagesource (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "name" varchar(255) NOT NULL,
  "bucket" varchar(255) NOT NULL,
  "region" varchar(255),
  "prefix" varchar(255) NOT NULL,
  "access_key" text NOT NULL,
  "secret_key" text NOT NULL,
  "endpoint_url" varchar(255),
  "public_base_url" varchar(255),
  "total_size" bigint,
  "total_files" bigint,
  "last_checked" timestamp with time zone,
  "project_id" bigint
);

CREATE TABLE ml_pipeline (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "name" varchar(255) NOT NULL,
  "slug" varchar(255) NOT NULL,
  "description" text NOT NULL,
  "version" integer NOT NULL,
  "version_name" varchar(255) NOT NULL
);

CREATE TABLE jobs_job (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "name" varchar(255) NOT NULL,
  "status" varchar(255) NOT NULL,
  "job_type_key" varchar(255) NOT NULL,
  "params" jsonb,
  "project_id" bigint,
  "deployment_id" bigint
);

CREATE TABLE main_tag (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "name" varchar(255) NOT NULL,
  "project_id" bigint
);

CREATE TABLE main_taxon_tags (
  "id" bigint PRIMARY KEY,
  "taxon_id" bigint NOT NULL,
  "tag_id" bigint NOT NULL
);

CREATE TABLE main_userprojectmembership (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "user_id" bigint NOT NULL,
  "project_id" bigint NOT NULL
);

CREATE TABLE main_site (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "name" character varying NOT NULL,
  "description" text NOT NULL,
  "project_id" bigint
);

CREATE TABLE main_device (
  "id" bigint PRIMARY KEY,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  "name" character varying NOT NULL,
  "description" text NOT NULL,
  "project_id" bigint
);

CREATE TABLE users_user (
  "id" bigint PRIMARY KEY,
  "password" character varying NOT NULL DEFAULT 'pbkdf2_sha256$secret',
  "last_login" timestamp with time zone,
  "is_superuser" boolean NOT NULL DEFAULT false,
  "email" character varying NOT NULL,
  "name" character varying NOT NULL,
  "is_staff" boolean NOT NULL DEFAULT false
);
