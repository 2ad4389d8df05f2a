-- The class board's schema at version 1 on PostgreSQL, from `pg_dump --schema-only` of a
-- database that quantviz 0.1.0 created (SET lines dropped), then one class and one submission.
-- Migration tests load this and let the current app upgrade it.

CREATE TABLE public.board_classes (
    code character varying(64) NOT NULL,
    is_open boolean NOT NULL,
    created_at timestamp without time zone NOT NULL
);

CREATE TABLE public.board_submissions (
    id integer NOT NULL,
    class_code character varying(64) NOT NULL,
    name character varying(80) NOT NULL,
    name_key character varying(80) NOT NULL,
    submitter character varying(64) NOT NULL,
    submitted_at timestamp without time zone NOT NULL,
    q4_size_bytes bigint,
    q4_bits_per_weight double precision,
    q4_tokens_per_s double precision,
    q4_probe_passed integer,
    q4_probe_total integer,
    q6_size_bytes bigint,
    q6_bits_per_weight double precision,
    q6_tokens_per_s double precision,
    q6_probe_passed integer,
    q6_probe_total integer,
    decision character varying(16),
    decision_text text,
    reason text NOT NULL,
    report_json text NOT NULL,
    report_bytes integer NOT NULL
);

CREATE SEQUENCE public.board_submissions_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.board_submissions_id_seq OWNED BY public.board_submissions.id;

CREATE TABLE public.schema_version (
    version integer NOT NULL,
    applied_at timestamp without time zone NOT NULL,
    app_version character varying(32) NOT NULL
);

ALTER TABLE ONLY public.board_submissions ALTER COLUMN id SET DEFAULT nextval('public.board_submissions_id_seq'::regclass);

ALTER TABLE ONLY public.board_classes
    ADD CONSTRAINT board_classes_pkey PRIMARY KEY (code);

ALTER TABLE ONLY public.board_submissions
    ADD CONSTRAINT board_submissions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.schema_version
    ADD CONSTRAINT schema_version_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.board_submissions
    ADD CONSTRAINT uq_board_name UNIQUE (class_code, name_key);

ALTER TABLE ONLY public.board_submissions
    ADD CONSTRAINT uq_board_submitter UNIQUE (class_code, submitter);

ALTER TABLE ONLY public.board_submissions
    ADD CONSTRAINT board_submissions_class_code_fkey FOREIGN KEY (class_code) REFERENCES public.board_classes(code) ON DELETE CASCADE;

-- One class and one submission, as quantviz 0.1.0 (schema version 1) wrote them.
INSERT INTO schema_version (version, applied_at, app_version)
VALUES (1, '2025-09-01 10:00:00.000000', '0.1.0');

INSERT INTO board_classes (code, is_open, created_at)
VALUES ('QV-OLD', TRUE, '2025-09-01 10:00:00.000000');

INSERT INTO board_submissions (
    id, class_code, name, name_key, submitter, submitted_at,
    q4_size_bytes, q4_bits_per_weight, q4_tokens_per_s, q4_probe_passed, q4_probe_total,
    q6_size_bytes, q6_bits_per_weight, q6_tokens_per_s, q6_probe_passed, q6_probe_total,
    decision, decision_text, reason, report_json, report_bytes
) VALUES (
    1, 'QV-OLD', 'Grace', 'grace', '99bd7df2059e10c77a943ca750eea6d2bb2fffc849ada0202e588424e5faddd4', '2025-09-02 09:30:00.000000',
    3100000000, 4.93, 41.5, 6, 8,
    4100000000, 6.52, 30.25, 7, 8,
    'Q4', 'choose Q4', 'Fits in 4 GB with room for 8k context.',
    '{"format":"quantviz-evidence/1","records":[]}', 45
);
SELECT setval('public.board_submissions_id_seq', 1);
