import GRDB

/// The schema, as append-only named migrations (STYLE.md §6): never edit one that has shipped.
///
/// Times are milliseconds since the epoch. Ids are integers here and decimal strings on the wire.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-initial") { db in
            try db.execute(
                sql: """
                    CREATE TABLE token (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL,
                        role TEXT NOT NULL CHECK (role IN ('requester', 'runner', 'admin')),
                        hash TEXT NOT NULL UNIQUE,
                        created_at INTEGER NOT NULL,
                        revoked_at INTEGER
                    );
                    CREATE TABLE session (
                        id INTEGER PRIMARY KEY,
                        hash TEXT NOT NULL UNIQUE,
                        token_id INTEGER NOT NULL REFERENCES token(id),
                        created_at INTEGER NOT NULL,
                        expires_at INTEGER NOT NULL
                    );
                    CREATE TABLE signing_key (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL UNIQUE,
                        key_id TEXT NOT NULL UNIQUE,
                        public_key TEXT NOT NULL,
                        created_at INTEGER NOT NULL
                    );
                    CREATE TABLE runner (
                        id INTEGER PRIMARY KEY,
                        token_id INTEGER NOT NULL REFERENCES token(id),
                        name TEXT NOT NULL,
                        millicpus INTEGER NOT NULL,
                        memory_bytes INTEGER NOT NULL,
                        disk_bytes INTEGER NOT NULL,
                        gpus INTEGER NOT NULL,
                        arch TEXT NOT NULL,
                        profiles TEXT NOT NULL,
                        version TEXT NOT NULL,
                        registered_at INTEGER NOT NULL,
                        last_seen_at INTEGER NOT NULL,
                        reputation INTEGER NOT NULL DEFAULT 0,
                        consecutive_valid INTEGER NOT NULL DEFAULT 0,
                        valid_count INTEGER NOT NULL DEFAULT 0,
                        invalid_count INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX runner_token ON runner(token_id);
                    CREATE TABLE job (
                        id INTEGER PRIMARY KEY,
                        owner_token_id INTEGER NOT NULL REFERENCES token(id),
                        name TEXT NOT NULL,
                        version TEXT NOT NULL,
                        state TEXT NOT NULL,
                        resume_state TEXT,
                        priority INTEGER NOT NULL DEFAULT 0,
                        signer_key_id TEXT NOT NULL,
                        manifest_digest TEXT NOT NULL,
                        signature_digest TEXT NOT NULL,
                        profile TEXT NOT NULL,
                        millicpus INTEGER NOT NULL,
                        memory_bytes INTEGER NOT NULL,
                        disk_bytes INTEGER NOT NULL,
                        wall_time_ms INTEGER NOT NULL,
                        pids INTEGER NOT NULL,
                        gpus INTEGER NOT NULL,
                        arch TEXT,
                        replicas INTEGER NOT NULL,
                        quorum INTEGER NOT NULL,
                        has_aggregate INTEGER NOT NULL,
                        units_total INTEGER NOT NULL,
                        units_valid INTEGER NOT NULL DEFAULT 0,
                        created_at INTEGER NOT NULL,
                        started_at INTEGER,
                        finished_at INTEGER,
                        failure_reason TEXT,
                        result_digest TEXT
                    );
                    CREATE INDEX job_owner ON job(owner_token_id, id);
                    CREATE INDEX job_schedule ON job(state, priority DESC, id);
                    CREATE TABLE unit (
                        id INTEGER PRIMARY KEY,
                        job_id INTEGER NOT NULL REFERENCES job(id),
                        name TEXT NOT NULL,
                        is_aggregate INTEGER NOT NULL DEFAULT 0,
                        state TEXT NOT NULL,
                        copies_total INTEGER NOT NULL,
                        files TEXT NOT NULL,
                        canonical_copy_id INTEGER,
                        output_digest TEXT,
                        blob_digest TEXT,
                        failure_reason TEXT,
                        UNIQUE (job_id, is_aggregate, name)
                    );
                    CREATE TABLE copy (
                        id INTEGER PRIMARY KEY,
                        job_id INTEGER NOT NULL REFERENCES job(id),
                        unit_id INTEGER NOT NULL REFERENCES unit(id),
                        state TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        runner_id INTEGER,
                        assignment_id INTEGER,
                        leased_at INTEGER,
                        lease_expires_at INTEGER,
                        progress REAL,
                        output_digest TEXT,
                        blob_digest TEXT,
                        usage TEXT,
                        fail_reason TEXT,
                        created_at INTEGER NOT NULL,
                        finished_at INTEGER
                    );
                    CREATE INDEX copy_queue ON copy(job_id, id) WHERE state = 'queued';
                    CREATE INDEX copy_lease ON copy(lease_expires_at) WHERE state = 'leased';
                    CREATE INDEX copy_unit ON copy(unit_id);
                    CREATE INDEX copy_job_state ON copy(job_id, state);
                    CREATE INDEX copy_runner ON copy(runner_id) WHERE state = 'leased';
                    CREATE TABLE assignment (
                        id INTEGER PRIMARY KEY,
                        copy_id INTEGER NOT NULL REFERENCES copy(id),
                        unit_id INTEGER NOT NULL,
                        runner_id INTEGER NOT NULL REFERENCES runner(id),
                        state TEXT NOT NULL,
                        leased_at INTEGER NOT NULL,
                        finished_at INTEGER,
                        output_digest TEXT,
                        blob_digest TEXT,
                        usage TEXT,
                        fail_reason TEXT,
                        counted INTEGER NOT NULL DEFAULT 1
                    );
                    CREATE INDEX assignment_runner_unit ON assignment(runner_id, unit_id);
                    CREATE TABLE job_blob (
                        digest TEXT NOT NULL,
                        job_id INTEGER NOT NULL,
                        PRIMARY KEY (digest, job_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE unit_blob (
                        digest TEXT NOT NULL,
                        unit_id INTEGER NOT NULL,
                        PRIMARY KEY (digest, unit_id)
                    ) WITHOUT ROWID;
                    """
            )
        }
        // A job whose bundle carries its own profile: the JSON array of the base profiles (built-in
        // names) it grants nothing beyond. Claims offer it only to runners allowing one of them.
        // NULL for a job naming a profile, which matches by that name as before.
        migrator.registerMigration("v2-job-profile-bases") { db in
            try db.execute(sql: "ALTER TABLE job ADD COLUMN profile_bases TEXT")
        }
        // Jobs belong to the requester's name, not to one token: after a token is revoked and a new
        // one of the same name is made, the requester still sees, cancels and downloads their jobs.
        migrator.registerMigration("v3-job-owner-name") { db in
            try db.execute(
                sql: """
                    ALTER TABLE job ADD COLUMN owner TEXT NOT NULL DEFAULT '';
                    UPDATE job SET owner = COALESCE((SELECT name FROM token WHERE token.id = job.owner_token_id), '');
                    CREATE INDEX job_owner_name ON job(owner, id);
                    """
            )
        }
        // wu.json's `on_unit_failure` (`fail-job` or `continue`); jobs from before it fail fast.
        // The indexes serve `wu status`: a job's units paged by state, and a unit's last failed attempt.
        migrator.registerMigration("v4-job-on-unit-failure") { db in
            try db.execute(
                sql: """
                    ALTER TABLE job ADD COLUMN on_unit_failure TEXT NOT NULL DEFAULT 'fail-job';
                    CREATE INDEX unit_job_state ON unit(job_id, state, id);
                    CREATE INDEX assignment_unit ON assignment(unit_id, state);
                    """
            )
        }
        // One runner token is one volunteer (DESIGN.md "Work unit lifecycle"): each assignment
        // records its token so copies of a unit go to distinct tokens, and reputation moves from the
        // runner row (reset by registering a new id) to the token, which all its runner ids share.
        // A token's existing runners' credit is summed into it.
        migrator.registerMigration("v5-volunteers") { db in
            try db.execute(
                sql: """
                    ALTER TABLE assignment ADD COLUMN token_id INTEGER;
                    UPDATE assignment SET token_id = (SELECT token_id FROM runner WHERE runner.id = assignment.runner_id);
                    CREATE INDEX assignment_token_unit ON assignment(token_id, unit_id);
                    CREATE TABLE volunteer (
                        token_id INTEGER PRIMARY KEY REFERENCES token(id),
                        reputation INTEGER NOT NULL DEFAULT 0,
                        consecutive_valid INTEGER NOT NULL DEFAULT 0,
                        valid_count INTEGER NOT NULL DEFAULT 0,
                        invalid_count INTEGER NOT NULL DEFAULT 0
                    );
                    INSERT INTO volunteer (token_id, reputation, consecutive_valid, valid_count, invalid_count)
                    SELECT token_id, SUM(reputation), MAX(consecutive_valid), SUM(valid_count), SUM(invalid_count)
                    FROM runner GROUP BY token_id;
                    """
            )
        }
        // Who uploaded each blob (a runner token: a volunteer): `complete` accepts only a blob its
        // runner's volunteer uploaded, so naming a stored blob is not enough to be granted it.
        migrator.registerMigration("v6-blob-uploads") { db in
            try db.execute(
                sql: """
                    CREATE TABLE blob_upload (
                        digest TEXT NOT NULL,
                        token_id INTEGER NOT NULL,
                        PRIMARY KEY (digest, token_id)
                    ) WITHOUT ROWID;
                    """
            )
        }
        return migrator
    }
}
