-- The class board's schema at version 1 on SQLite, as `sqlite3 .schema` printed it for a
-- database that quantviz 0.1.0 created, then one class and one submission. Migration tests load
-- this and let the current app upgrade it.

CREATE TABLE schema_version (
	version INTEGER NOT NULL,
	applied_at DATETIME NOT NULL,
	app_version VARCHAR(32) NOT NULL,
	PRIMARY KEY (version)
);

CREATE TABLE board_classes (
	code VARCHAR(64) NOT NULL,
	is_open BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (code)
);

CREATE TABLE board_submissions (
	id INTEGER NOT NULL,
	class_code VARCHAR(64) NOT NULL,
	name VARCHAR(80) NOT NULL,
	name_key VARCHAR(80) NOT NULL,
	submitter VARCHAR(64) NOT NULL,
	submitted_at DATETIME NOT NULL,
	q4_size_bytes BIGINT,
	q4_bits_per_weight FLOAT,
	q4_tokens_per_s FLOAT,
	q4_probe_passed INTEGER,
	q4_probe_total INTEGER,
	q6_size_bytes BIGINT,
	q6_bits_per_weight FLOAT,
	q6_tokens_per_s FLOAT,
	q6_probe_passed INTEGER,
	q6_probe_total INTEGER,
	decision VARCHAR(16),
	decision_text TEXT,
	reason TEXT NOT NULL,
	report_json TEXT NOT NULL,
	report_bytes INTEGER NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_board_name UNIQUE (class_code, name_key),
	CONSTRAINT uq_board_submitter UNIQUE (class_code, submitter),
	FOREIGN KEY(class_code) REFERENCES board_classes (code) ON DELETE CASCADE
);

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
