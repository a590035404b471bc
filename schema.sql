-- Township Station, schema version 1.
--
-- Two halves. The storage tables hold what the station keeps; the definition tables hold the
-- entities, their fields and the code tables *as data*, so nothing else in the program
-- hard-codes an entity's fields, labels or code tables. Schema bundles (later versions) add
-- rows to the definition tables; they never drop data.
--
-- Only what must be read while the store is locked or by sync is clear: ids, entity, grid,
-- timestamps, clocks, workflow step. Every value of a field marked `sensitive` is sealed with
-- AES-256-GCM before it reaches this file (see station/store.py).

------------------------------------------------------------------------------------------------
-- Storage
------------------------------------------------------------------------------------------------

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The data key, wrapped once per clerk passphrase and once for the county's recovery key,
-- as LUKS keyslots do. Removing a slot leaves the others working.
CREATE TABLE keyslots (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('passphrase', 'recovery')),
    clerk            TEXT UNIQUE,          -- NULL for the recovery slot
    kdf              TEXT,                 -- 'argon2id' | 'scrypt' (passphrase slots)
    kdf_params       TEXT,                 -- JSON, so each slot can be opened with its own cost
    salt             BLOB,
    ephemeral_public BLOB,                 -- X25519 public key (recovery slot)
    wrapped          BLOB NOT NULL,        -- nonce || AES-GCM(kek, data key)
    created_at       TEXT NOT NULL
);

CREATE TABLE schema_versions (
    version    INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL,
    source     TEXT NOT NULL,              -- 'schema.sql' or the bundle's name
    digest     TEXT                        -- SHA-256 of what was applied
);

-- Current state of every record. `clear` holds the non-sensitive fields as JSON; `sealed`
-- maps each sensitive field to its sealed value (base64), bound to (id, entity, field).
-- `clocks` maps each field to the hybrid logical clock of its last write: merge is per field.
CREATE TABLE records (
    id             TEXT PRIMARY KEY,       -- time-ordered UUID made on the station
    entity         TEXT NOT NULL,
    grid           TEXT,                   -- scope, clear so sync can route without unlocking
    clear          TEXT NOT NULL,
    sealed         TEXT NOT NULL,
    clocks         TEXT NOT NULL,
    hlc            TEXT NOT NULL,          -- the newest clock of any field
    deleted        INTEGER NOT NULL DEFAULT 0,   -- tombstone: kept, so a delete can sync
    schema_version INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX records_entity ON records (entity, id);
CREATE INDEX records_grid ON records (grid);

-- Blind indexes: a truncated keyed HMAC of the normalised value, one key per field. Truncation
-- is deliberate (see docs/SCHEMA.md): each bucket holds a few candidates, which are opened and
-- compared, so a leaked index key does not hand over the ID-number space.
CREATE TABLE blind_index (
    field     TEXT NOT NULL,               -- 'entity.field'
    bucket    INTEGER NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (field, bucket, record_id)
) WITHOUT ROWID;

-- The change log, which is the outbox sync drains. One row per write, appended in the same
-- transaction as the record. `base` maps each written field to the clock its author last saw,
-- so the hub can tell a later edit from a concurrent one.
CREATE TABLE changes (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,   -- the station's sequence number
    record_id      TEXT NOT NULL,
    entity         TEXT NOT NULL,
    op             TEXT NOT NULL CHECK (op IN ('add', 'update', 'delete')),
    grid           TEXT,
    clear          TEXT NOT NULL,
    sealed         TEXT NOT NULL,
    hlc            TEXT NOT NULL,
    base           TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    receipt        INTEGER,                -- the hub's sequence number, once accepted
    acked_at       TEXT,
    rejected       TEXT                    -- the hub's reason, when it refused the change
);
CREATE INDEX changes_pending ON changes (seq) WHERE receipt IS NULL;
CREATE INDEX changes_record ON changes (record_id);

-- Concurrent edits that a person must settle. Values are sealed like record fields.
CREATE TABLE conflicts (
    id          TEXT PRIMARY KEY,
    record_id   TEXT NOT NULL,
    entity      TEXT NOT NULL,
    field       TEXT NOT NULL,
    sealed      TEXT NOT NULL,             -- JSON {base, local, remote}, each sealed
    local_hlc   TEXT,
    remote_hlc  TEXT,
    created_at  TEXT NOT NULL,
    resolved_at TEXT,
    resolution  TEXT
);
CREATE INDEX conflicts_open ON conflicts (record_id) WHERE resolved_at IS NULL;

------------------------------------------------------------------------------------------------
-- Definitions: the schema as data
------------------------------------------------------------------------------------------------

CREATE TABLE schema_entities (
    name          TEXT PRIMARY KEY,        -- English, lower case: 'person'
    label_zh      TEXT NOT NULL,
    label_en      TEXT NOT NULL,
    module        TEXT,                    -- GB/T 31000-2015 module it belongs to
    scope_field   TEXT,                    -- the field holding the grid code that scopes it
    title_field   TEXT,                    -- the field shown as the record's title in lists
    position      INTEGER NOT NULL,
    since_version INTEGER NOT NULL DEFAULT 1
);

-- type: text | integer | number | boolean | date | datetime | code | codes | ref | refs | texts
--   code/codes take values of `code_table`; ref/refs hold ids of `ref_entity` records;
--   texts is a list of strings; codes and refs are lists.
-- rule: a named check beyond the type: id_number | credit_code | mobile | phone |
--   county_code | township_code | grid_code
-- sensitive: sealed on disk; indexed: blind index for exact lookup (identifiers only).
CREATE TABLE schema_fields (
    entity        TEXT NOT NULL REFERENCES schema_entities (name),
    name          TEXT NOT NULL,
    position      INTEGER NOT NULL,
    type          TEXT NOT NULL,
    label_zh      TEXT NOT NULL,
    label_en      TEXT NOT NULL,
    help_zh       TEXT,
    help_en       TEXT,
    required      INTEGER NOT NULL DEFAULT 0,
    sensitive     INTEGER NOT NULL DEFAULT 0,
    indexed       INTEGER NOT NULL DEFAULT 0,
    rule          TEXT,
    code_table    TEXT,
    ref_entity    TEXT,
    max_length    INTEGER,
    min_value     REAL,
    max_value     REAL,
    default_value TEXT,                    -- JSON
    deprecated    INTEGER NOT NULL DEFAULT 0,
    since_version INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (entity, name)
);

CREATE TABLE code_tables (
    name          TEXT PRIMARY KEY,
    label_zh      TEXT NOT NULL,
    label_en      TEXT NOT NULL,
    since_version INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE code_values (
    code_table    TEXT NOT NULL REFERENCES code_tables (name),
    code          TEXT NOT NULL,
    label_zh      TEXT NOT NULL,
    label_en      TEXT NOT NULL,
    parent        TEXT,                    -- for two-level tables (dispute kinds)
    position      INTEGER NOT NULL,
    deprecated    INTEGER NOT NULL DEFAULT 0,
    since_version INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (code_table, code)
);

-- @@V1_DEFINITIONS@@
