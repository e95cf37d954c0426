-- ro's shared store, version 1: planes, their hash-chained journals, snapshots and the keyed
-- hashes of API tokens. Several planes live in one database, told apart by `plane`.
--
-- The database itself refuses a fork: a batch of journal rows is accepted only if it extends
-- its plane's head exactly (seq head+1, head+2, ... and each prev the hash before it), checked
-- under the plane row's lock in the inserting transaction; the primary key (plane, seq)
-- refuses an equal or lower seq as well. Journal rows are never updated or deleted.

CREATE TABLE ro_planes (
    plane     text PRIMARY KEY CHECK (plane ~ '^[A-Za-z0-9_.-]{1,64}$'),
    format    text NOT NULL,
    head_seq  bigint NOT NULL DEFAULT 0 CHECK (head_seq >= 0),
    head_hash bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
);

CREATE TABLE ro_journal (
    plane text   NOT NULL REFERENCES ro_planes (plane),
    seq   bigint NOT NULL CHECK (seq > 0),
    prev  bytea  NOT NULL CHECK (length(prev) = 32),
    hash  bytea  NOT NULL CHECK (length(hash) = 32),
    body  bytea  NOT NULL,
    PRIMARY KEY (plane, seq)
);

CREATE TABLE ro_snapshots (
    plane text   NOT NULL REFERENCES ro_planes (plane),
    seq   bigint NOT NULL,
    bytes bytea  NOT NULL,
    PRIMARY KEY (plane, seq)
);

CREATE TABLE ro_api_tokens (
    plane    text  NOT NULL REFERENCES ro_planes (plane),
    token_id text  NOT NULL,
    mac      bytea NOT NULL CHECK (length(mac) = 32),
    PRIMARY KEY (plane, token_id)
);

-- Every inserted batch must extend its plane's head; the head moves with it, and channel
-- ro_journal is notified with the plane's name.
CREATE FUNCTION ro_journal_extend() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    p record;
    bad bigint;
BEGIN
    FOR p IN SELECT DISTINCT plane FROM inserted ORDER BY plane LOOP
        PERFORM 1 FROM ro_planes WHERE plane = p.plane FOR UPDATE;
        SELECT n.seq INTO bad
          FROM (SELECT seq, prev,
                       lag(hash) OVER (ORDER BY seq) AS before,
                       row_number() OVER (ORDER BY seq) AS n
                  FROM inserted WHERE plane = p.plane) n,
               ro_planes h
         WHERE h.plane = p.plane
           AND (n.seq <> h.head_seq + n.n OR n.prev <> coalesce(n.before, h.head_hash))
         ORDER BY n.seq LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ro: record % of plane % does not extend its head', bad, p.plane
                USING ERRCODE = 'RO001';
        END IF;
        UPDATE ro_planes h
           SET head_seq = last.seq, head_hash = last.hash
          FROM (SELECT seq, hash FROM inserted WHERE plane = p.plane
                 ORDER BY seq DESC LIMIT 1) last
         WHERE h.plane = p.plane;
        -- Other hosts hear of the commit (delivered only if it commits).
        PERFORM pg_notify('ro_journal', p.plane);
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER ro_journal_extend AFTER INSERT ON ro_journal
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION ro_journal_extend();

CREATE FUNCTION ro_journal_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ro: journal rows are never edited or removed' USING ERRCODE = 'RO002';
END $$;

CREATE TRIGGER ro_journal_immutable BEFORE UPDATE OR DELETE ON ro_journal
    FOR EACH ROW EXECUTE FUNCTION ro_journal_immutable();
CREATE TRIGGER ro_journal_no_truncate BEFORE TRUNCATE ON ro_journal
    FOR EACH STATEMENT EXECUTE FUNCTION ro_journal_immutable();
