-- The service database's tables as the code before migrations created them (metadata.create_all of
-- core/store.py and agents/schema.py, commit 393f0b4), on SQLite. tests/test_migrations.py builds a
-- database of that age from it.

CREATE TABLE tickets (
	id INTEGER NOT NULL,
	number VARCHAR(32),
	conversation_id VARCHAR(255) NOT NULL,
	topic VARCHAR(64) NOT NULL,
	description TEXT NOT NULL,
	contact_channel VARCHAR(16) NOT NULL,
	contact_detail VARCHAR(255) NOT NULL,
	status VARCHAR(16) NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_tickets_conversation_id ON tickets (conversation_id);

CREATE UNIQUE INDEX ix_tickets_number ON tickets (number);

CREATE TABLE handoff_queue (
	id INTEGER NOT NULL,
	conversation_id VARCHAR(255) NOT NULL,
	topic VARCHAR(64) NOT NULL,
	description TEXT NOT NULL,
	status VARCHAR(16) NOT NULL,
	enqueued_at DATETIME NOT NULL,
	agent VARCHAR(64),
	PRIMARY KEY (id)
);

CREATE INDEX ix_handoff_queue_conversation_id ON handoff_queue (conversation_id);

CREATE TABLE agent_actions (
	id INTEGER NOT NULL,
	conversation_id VARCHAR(255) NOT NULL,
	agent VARCHAR(64) NOT NULL,
	action VARCHAR(16) NOT NULL,
	text TEXT NOT NULL,
	at DATETIME NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_agent_actions_conversation_id ON agent_actions (conversation_id);

CREATE TABLE ratings (
	id INTEGER NOT NULL,
	conversation_id VARCHAR(255) NOT NULL,
	topic VARCHAR(64) NOT NULL,
	score INTEGER NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_ratings_conversation_id ON ratings (conversation_id);

CREATE TABLE evidence (
	id INTEGER NOT NULL,
	ticket_number VARCHAR(32) NOT NULL,
	conversation_id VARCHAR(255) NOT NULL,
	kind VARCHAR(8) NOT NULL,
	content_type VARCHAR(32) NOT NULL,
	file_name VARCHAR(96) NOT NULL,
	thumbnail VARCHAR(96),
	size INTEGER NOT NULL,
	sha256 VARCHAR(64) NOT NULL,
	upload_size INTEGER NOT NULL,
	upload_sha256 VARCHAR(64) NOT NULL,
	original_name VARCHAR(255) NOT NULL,
	note TEXT NOT NULL,
	uploader VARCHAR(64) NOT NULL,
	width INTEGER,
	height INTEGER,
	duration FLOAT,
	preview VARCHAR(16) NOT NULL,
	notified BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT evidence_ticket_sha256 UNIQUE (ticket_number, sha256)
);

CREATE INDEX ix_evidence_ticket_number ON evidence (ticket_number);

CREATE INDEX ix_evidence_conversation_id ON evidence (conversation_id);

CREATE TABLE agents (
	id INTEGER NOT NULL,
	username VARCHAR(32) NOT NULL,
	display_name VARCHAR(32) NOT NULL,
	password_hash VARCHAR(255) NOT NULL,
	active BOOLEAN NOT NULL,
	max_chats INTEGER,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);

CREATE UNIQUE INDEX ix_agents_username ON agents (username);

CREATE TABLE agent_sessions (
	id INTEGER NOT NULL,
	token_hash VARCHAR(64) NOT NULL,
	agent_id INTEGER NOT NULL,
	created_at DATETIME NOT NULL,
	expires_at DATETIME NOT NULL,
	last_seen DATETIME NOT NULL,
	revoked BOOLEAN NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_agent_sessions_agent_id ON agent_sessions (agent_id);

CREATE UNIQUE INDEX ix_agent_sessions_token_hash ON agent_sessions (token_hash);

CREATE TABLE login_failures (
	username VARCHAR(32) NOT NULL,
	failures INTEGER NOT NULL,
	locked_until DATETIME,
	last_failure DATETIME,
	PRIMARY KEY (username)
);

CREATE TABLE agent_notes (
	id INTEGER NOT NULL,
	conversation_id VARCHAR(255) NOT NULL,
	agent VARCHAR(32) NOT NULL,
	author VARCHAR(32) NOT NULL,
	text TEXT NOT NULL,
	at DATETIME NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_agent_notes_conversation_id ON agent_notes (conversation_id);

CREATE TABLE console_events (
	id INTEGER NOT NULL,
	conversation_id VARCHAR(255) NOT NULL,
	kind VARCHAR(16) NOT NULL,
	agent VARCHAR(32),
	at DATETIME NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE agent_ratings (
	id INTEGER NOT NULL,
	conversation_id VARCHAR(255) NOT NULL,
	agent VARCHAR(32) NOT NULL,
	topic VARCHAR(64) NOT NULL,
	score INTEGER NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_agent_ratings_conversation_id ON agent_ratings (conversation_id);

CREATE INDEX ix_agent_ratings_agent ON agent_ratings (agent);

