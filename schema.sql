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
    ephemeral_public BLOB,                 -- X25519 ephemeral public key the data key is sealed with
    wrapped          BLOB NOT NULL,        -- the data key: nonce || AES-GCM(kek or key sealed to public_key)
    created_at       TEXT NOT NULL,
    role             TEXT NOT NULL DEFAULT 'clerk',  -- clerk | gridworker | volunteer (station/roles.json)
    grids            TEXT,                 -- JSON list: the grids of a gridworker
    volunteer        TEXT,                 -- the volunteer record of a volunteer
    -- A clerk's own X25519 key pair (station/keys.py): a rotation seals the new data key to
    -- public_key, which only the passphrase of the slot opens the private half of. NULL: a
    -- slot made before rotation, given its pair at its next unlock.
    public_key       BLOB,
    wrapped_private  BLOB                  -- nonce || AES-GCM(kek, X25519 private key)
);

CREATE TABLE schema_versions (
    version    INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL,
    source     TEXT NOT NULL,              -- 'schema.sql' or the bundle's name
    digest     TEXT,                       -- SHA-256 of what was applied
    dictionary BLOB                        -- the bundle's zstd dictionary (sync/dictionary.py)
);

-- Current state of every record. `clear` holds the non-sensitive fields as JSON; `sealed`
-- maps each sensitive field to its sealed value (base64), bound to (id, entity, field).
-- Merge is per field: a field's clock is its entry in `clocks` (written by an update, a
-- clear or a delete) or else `created_hlc`, the clock of the add that wrote it. Keeping the
-- add's clock once instead of per field saves about 350 bytes per person.
CREATE TABLE records (
    id             TEXT PRIMARY KEY,       -- time-ordered UUID made on the station
    entity         TEXT NOT NULL,
    grid           TEXT,                   -- scope, clear so sync can route without unlocking
    clear          TEXT NOT NULL,
    sealed         TEXT NOT NULL,
    clocks         TEXT NOT NULL,          -- JSON: field -> clock, for fields written since the add
    created_hlc    TEXT NOT NULL,
    hlc            TEXT NOT NULL,          -- the newest clock of any field
    deleted        INTEGER NOT NULL DEFAULT 0,   -- tombstone: kept, so a delete can sync
    owner          TEXT,                   -- the record this one belongs to (its parent_field)
    step           TEXT,                   -- workflow subjects: the step derived from their events
    state          TEXT,                   -- sealed per-field merge state, once a pull touched it
    schema_version INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    due            REAL                    -- workflow subjects: when the next unmet deadline falls due
);
CREATE INDEX records_entity ON records (entity, id);
-- Counting live records per entity (home screen, list totals, status) from this index alone:
-- 12 ms instead of 156 ms at 160,000 people (docs/BENCHMARKS.md).
CREATE INDEX records_live ON records (entity) WHERE deleted = 0;
CREATE INDEX records_grid ON records (grid);
CREATE INDEX records_owner ON records (owner) WHERE owner IS NOT NULL;
CREATE INDEX records_step ON records (entity, step) WHERE step IS NOT NULL;

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
    op             TEXT NOT NULL CHECK (op IN ('add', 'update', 'delete', 'undelete')),
    grid           TEXT,
    clear          TEXT NOT NULL,
    sealed         TEXT NOT NULL,
    hlc            TEXT NOT NULL,
    base           TEXT NOT NULL,
    was            TEXT NOT NULL DEFAULT '',  -- sealed values the author saw, for conflicts
    seen           TEXT,                   -- JSON causal context (sync.merge); NULL: made before contexts
    scope          INTEGER,                -- the scope version it was written under (county IT's grid changes)
    clerk          TEXT,                   -- who wrote it (a clerk of this station), shown with a conflict
    schema_version INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    receipt        INTEGER,                -- the hub's sequence number, once accepted
    acked_at       TEXT,
    rejected       TEXT,                   -- the hub's reason, when it refused the change
    resent_as      INTEGER,                -- a refused change fixed and sent again: its new seq
    tier           INTEGER NOT NULL DEFAULT 1  -- push order: 0 cases and steps, 1 base data, 2 attachments
);
CREATE INDEX changes_pending ON changes (seq) WHERE receipt IS NULL;
-- The outbox in the order a round pushes it (station.priorities): by tier, then seq.
CREATE INDEX changes_outbox ON changes (tier, seq) WHERE receipt IS NULL AND rejected IS NULL;
-- The refused changes nobody has resent: counted for the home screen every few seconds, which
-- otherwise read the whole change log (kept for ever) each time.
CREATE INDEX changes_refused ON changes (seq) WHERE rejected IS NOT NULL AND resent_as IS NULL;

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

-- Attachment bytes (photos, scans), content-addressed by SHA-256 and kept in chunks, each
-- sealed with AES-256-GCM bound to (sha256, index): in this file, so litestream replicates
-- them with the records. What a file is (its name, note, the record it belongs to) is an
-- ordinary `attachment` record; this holds only the bytes and how far they have travelled.
CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY,           -- of the whole file, lower-case hex
    size       INTEGER NOT NULL,
    chunks     INTEGER NOT NULL,           -- how many chunks make the file (sync/attachments.py)
    stored     INTEGER NOT NULL DEFAULT 0, -- chunks held here; = chunks when the file is whole
    sent_at    TEXT,                       -- when the hub had every chunk (NULL: still to send)
    wanted     INTEGER NOT NULL DEFAULT 0, -- a clerk asked for it: fetch at the next sync
    created_at TEXT NOT NULL
);
CREATE TABLE blob_chunks (
    sha256 TEXT NOT NULL,
    idx    INTEGER NOT NULL,
    data   BLOB NOT NULL,                  -- version || nonce || AES-GCM(chunk)
    PRIMARY KEY (sha256, idx)
) WITHOUT ROWID;

-- A clerk's deliberate reveal of a masked personal value on the kiosk (issue 21): who, when,
-- which record and field, kept for the audit trail. The record id is a UUID and the field a
-- schema name; the clerk's name is sealed, bound to (record, field, at).
CREATE TABLE reveals (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,               -- UTC ISO 8601, milliseconds
    record_id TEXT NOT NULL,
    entity    TEXT NOT NULL,
    field     TEXT NOT NULL,
    clerk     TEXT NOT NULL                -- sealed: version || nonce || AES-GCM(name)
);

-- The audit trail (issue 25): who did what to which record, when; never a value. Each entry
-- is chained by SHA-256 to the one before (sync/audit_chain.py), so an edited, deleted or
-- moved entry shows, here and at the hub, which receives a copy with each sync round.
CREATE TABLE audit_log (
    seq    INTEGER PRIMARY KEY,            -- 1, 2, 3 … (a gap is a deleted entry)
    at     TEXT NOT NULL,                  -- UTC ISO 8601, milliseconds
    clerk  TEXT NOT NULL,                  -- the clerk's slot name ('' not known)
    role   TEXT NOT NULL,
    action TEXT NOT NULL,                  -- sync.audit_chain.ACTIONS
    target TEXT NOT NULL,                  -- 'entity/record-id', an entity, or ''
    detail TEXT NOT NULL,                  -- JSON of names and counts
    prev   TEXT NOT NULL,                  -- the hash of entry seq - 1
    hash   TEXT NOT NULL
);

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
    parent_field  TEXT,                    -- the ref field naming the record this one belongs to
    position      INTEGER NOT NULL,
    since_version INTEGER NOT NULL DEFAULT 1
);

-- type: text | integer | number | boolean | date | datetime | code | codes | ref | refs | texts
--   code/codes take values of `code_table`; ref/refs hold ids of `ref_entity` records;
--   texts is a list of strings; codes and refs are lists.
-- rule: a named check beyond the type: id_number | credit_code | mobile | phone |
--   county_code | township_code | grid_code | time_of_day (HH:MM)
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

-- Workflows: a subject (an incident, a dispute) moves through steps by appending event
-- records; its current step is derived from the events (sync/workflow.py), never the only
-- truth. deadline_seconds: how long after the first step this step must be reached (the
-- 1/3/5-minute rule); closes: reaching this step closes the case.
CREATE TABLE workflows (
    name           TEXT PRIMARY KEY,
    subject_entity TEXT NOT NULL REFERENCES schema_entities (name),
    event_entity   TEXT NOT NULL REFERENCES schema_entities (name),
    label_zh       TEXT NOT NULL,
    label_en       TEXT NOT NULL,
    since_version  INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE workflow_steps (
    workflow          TEXT NOT NULL REFERENCES workflows (name),
    step              TEXT NOT NULL,
    position          INTEGER NOT NULL,
    label_zh          TEXT NOT NULL,
    label_en          TEXT NOT NULL,
    deadline_seconds  INTEGER,
    deadline_label_zh TEXT,
    deadline_label_en TEXT,
    closes            INTEGER NOT NULL DEFAULT 0,
    since_version     INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (workflow, step)
);

-- Allowed moves; from_step '' is the first step. needs_reason: the event must carry a note.
CREATE TABLE workflow_moves (
    workflow      TEXT NOT NULL REFERENCES workflows (name),
    from_step     TEXT NOT NULL,
    to_step       TEXT NOT NULL,
    label_zh      TEXT NOT NULL,
    label_en      TEXT NOT NULL,
    needs_reason  INTEGER NOT NULL DEFAULT 0,
    since_version INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (workflow, from_step, to_step)
);

-- Volunteer points: what earns how many (a check-in, an accepted report).
CREATE TABLE point_rules (
    name          TEXT PRIMARY KEY,
    label_zh      TEXT NOT NULL,
    label_en      TEXT NOT NULL,
    points        INTEGER NOT NULL,
    since_version INTEGER NOT NULL DEFAULT 1
);

-- Which entities take attachments, how large and of which media types (checked on the station
-- when a file is attached and again by the hub when its record arrives).
CREATE TABLE attachment_rules (
    entity        TEXT PRIMARY KEY REFERENCES schema_entities (name),
    max_bytes     INTEGER NOT NULL,
    types         TEXT NOT NULL,           -- JSON list of media types, e.g. ["image/jpeg"]
    since_version INTEGER NOT NULL DEFAULT 1
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

-- Version 1 definitions. Chinese labels use GB/T 31000-2015 terms where it has them; code
-- tables come from its section 5 where it defines one, otherwise from local practice.

INSERT INTO schema_entities (name, label_zh, label_en, module, scope_field, title_field, position) VALUES
    ('grid',         '网格',         'Grid',                 '4.1 综治组织及综合业务',           'code', 'name',    1),
    ('person',       '实有人口',     'Person',               '4.2 实有人口',                     'grid', 'name',    2),
    ('building',     '实有楼栋',     'Building',             '4.2 实有人口',                     'grid', 'address', 3),
    ('house',        '实有房屋',     'House',                '4.2 实有人口',                     'grid', 'room',    4),
    ('organization', '实有单位',     'Organization',         '4.5 非公有制经济组织和社会组织',   'grid', 'name',    5),
    ('special_care', '特殊人群',     'Special-care person',  '4.3 特殊人群',                     'grid', 'kind',    6),
    ('incident',     '事件',         'Incident',             '4.6 社会治安',                     'grid', 'title',   7),
    ('dispute',      '矛盾纠纷',     'Dispute',              '4.7 矛盾纠纷排查化解',             'grid', 'kind',    8),
    ('volunteer',    '义务网格员',   'Volunteer gridworker', '4.1 综治组织及综合业务',           'grid', 'name',    9),
    ('checkin',      '志愿者签到',   'Volunteer check-in',   '4.1 综治组织及综合业务',           'grid', 'day',     10),
    ('duty_post',    '护学岗岗点',   'School-gate post',     '4.8 校园及周边安全',               'grid', 'name',    11),
    ('duty_shift',   '护学岗班次',   'School-gate shift',    '4.8 校园及周边安全',               'grid', 'day',     12),
    ('incident_event', '事件处置记录', 'Incident step',      '4.6 社会治安',                     'grid', 'step',    13),
    ('dispute_event',  '纠纷化解记录', 'Dispute step',       '4.7 矛盾纠纷排查化解',             'grid', 'step',    14),
    ('attachment',     '附件',         'Attachment',         '4.6 社会治安',                     'grid', 'name',    15),
    ('dispute_party',  '纠纷当事人',   'Dispute party',      '4.7 矛盾纠纷排查化解',             'grid', 'name',    16);

-- The record each of these belongs to: lists per parent, and one event history per case.
UPDATE schema_entities SET parent_field = 'building' WHERE name = 'house';
UPDATE schema_entities SET parent_field = 'person' WHERE name = 'special_care';
UPDATE schema_entities SET parent_field = 'volunteer' WHERE name = 'checkin';
UPDATE schema_entities SET parent_field = 'post' WHERE name = 'duty_shift';
UPDATE schema_entities SET parent_field = 'incident' WHERE name = 'incident_event';
UPDATE schema_entities SET parent_field = 'dispute' WHERE name = 'dispute_event';
UPDATE schema_entities SET parent_field = 'record' WHERE name = 'attachment';
UPDATE schema_entities SET parent_field = 'dispute' WHERE name = 'dispute_party';

INSERT INTO workflows (name, subject_entity, event_entity, label_zh, label_en) VALUES
    ('incident', 'incident', 'incident_event', '事件五步闭环', 'Five-step incident loop'),
    ('dispute',  'dispute',  'dispute_event',  '矛盾纠纷化解', 'Dispute mediation');

-- discover → report → dispose → feed back → verify (发现、上报、处置、反馈、核查), with the
-- joint fast-response rule: respond (report) within 1 minute of discovery, arrive (dispose)
-- within 3, bring under control (feed back) within 5. Local practice, so data, not code.
INSERT INTO workflow_steps (workflow, step, position, label_zh, label_en, deadline_seconds, deadline_label_zh, deadline_label_en, closes) VALUES
    ('incident', 'discover', 1, '发现', 'Discover',  NULL, NULL,        NULL,              0),
    ('incident', 'report',   2, '上报', 'Report',    60,   '1 分钟响应', 'respond in 1 min', 0),
    ('incident', 'dispose',  3, '处置', 'Dispose',   180,  '3 分钟到场', 'arrive in 3 min',  0),
    ('incident', 'feedback', 4, '反馈', 'Feed back', 300,  '5 分钟处置', 'control in 5 min', 0),
    ('incident', 'verify',   5, '核查', 'Verify',    NULL, NULL,        NULL,              1),
    ('dispute',  'register', 1, '登记受理', 'Registered',  NULL, NULL, NULL, 0),
    ('dispute',  'mediate',  2, '调解',     'Mediating',   NULL, NULL, NULL, 0),
    ('dispute',  'resolved', 3, '化解成功', 'Resolved',    NULL, NULL, NULL, 1),
    ('dispute',  'failed',   4, '化解不成功', 'Not resolved', NULL, NULL, NULL, 0);

INSERT INTO workflow_moves (workflow, from_step, to_step, label_zh, label_en, needs_reason) VALUES
    ('incident', '',         'discover', '发现登记',   'Log discovery',        0),
    ('incident', 'discover', 'report',   '上报',       'Report',               0),
    ('incident', 'report',   'dispose',  '交办处置',   'Assign for disposal',  0),
    ('incident', 'dispose',  'feedback', '反馈结果',   'Feed back',            0),
    ('incident', 'feedback', 'verify',   '核查通过',   'Verify',               0),
    ('incident', 'feedback', 'dispose',  '核查不通过，退回处置', 'Verification failed: back to disposal', 1),
    ('incident', 'verify',   'dispose',  '重新处置',   'Reopen',               1),
    ('dispute',  '',         'register', '登记受理',   'Register',             0),
    ('dispute',  'register', 'mediate',  '开始调解',   'Start mediation',      0),
    ('dispute',  'mediate',  'mediate',  '再次调解',   'Another session',      0),
    ('dispute',  'mediate',  'resolved', '化解成功',   'Resolved',             0),
    ('dispute',  'mediate',  'failed',   '化解不成功', 'Not resolved',         1),
    ('dispute',  'failed',   'mediate',  '重新调解',   'Mediate again',        0),
    ('dispute',  'resolved', 'mediate',  '重新调解',   'Reopen',               1);

INSERT INTO point_rules (name, label_zh, label_en, points) VALUES
    ('checkin',         '每日签到',     'Daily check-in',  1),
    ('accepted_report', '上报事件被受理', 'Accepted report', 5);

INSERT INTO code_tables (name, label_zh, label_en) VALUES
    ('gender',            '性别',             'Sex'),
    ('population_type',   '人口类型',         'Population type'),
    ('building_use',      '建筑用途',         'Building use'),
    ('house_use',         '房屋用途',         'House use'),
    ('org_kind',          '单位类别',         'Organization kind'),
    ('special_care_kind', '特殊人群类别',     'Special-care kind'),
    ('risk_level',        '危险性评估等级',   'Risk assessment level'),
    ('incident_category', '事件类别',         'Incident category'),
    ('incident_source',   '事件来源',         'Incident source'),
    ('severity',          '案（事）件分级',   'Severity'),
    ('department',        '处置部门',         'Department'),
    ('dispute_kind',      '矛盾纠纷类别',     'Dispute kind'),
    ('dispute_scale',     '事件规模',         'Scale'),
    ('mediation_method',  '化解方式',         'Mediation method'),
    ('volunteer_kind',    '志愿者类别',       'Volunteer kind'),
    ('duty_kind',         '护学岗人员类别',   'Guard kind'),
    ('event_role',        '操作人角色',       'Role'),
    ('party_role',        '当事人角色',       'Party role'),
    ('agreement_result',  '是否达成协议',     'Agreement reached');

INSERT INTO code_values (code_table, code, label_zh, label_en, parent, position) VALUES
    -- GB/T 2261.1
    ('gender', '0', '未知的性别', 'Unknown', NULL, 1),
    ('gender', '1', '男性', 'Male', NULL, 2),
    ('gender', '2', '女性', 'Female', NULL, 3),
    ('gender', '9', '未说明的性别', 'Not stated', NULL, 4),
    -- GB/T 31000-2015 4.2 data sets
    ('population_type', '01', '户籍人口', 'Registered resident', NULL, 1),
    ('population_type', '02', '流动人口', 'Migrant', NULL, 2),
    ('population_type', '03', '留守人员', 'Left-behind', NULL, 3),
    ('population_type', '04', '境外人员', 'Foreign national', NULL, 4),
    ('building_use', '01', '住宅', 'Residential', NULL, 1),
    ('building_use', '02', '商业', 'Commercial', NULL, 2),
    ('building_use', '03', '办公', 'Office', NULL, 3),
    ('building_use', '04', '工业', 'Industrial', NULL, 4),
    ('building_use', '05', '公共服务', 'Public service', NULL, 5),
    ('building_use', '06', '混合', 'Mixed', NULL, 6),
    ('building_use', '99', '其他', 'Other', NULL, 7),
    ('house_use', '01', '自住', 'Owner-occupied', NULL, 1),
    ('house_use', '02', '出租', 'Rented out', NULL, 2),
    ('house_use', '03', '空置', 'Vacant', NULL, 3),
    ('house_use', '04', '经营', 'Business', NULL, 4),
    ('house_use', '99', '其他', 'Other', NULL, 5),
    ('org_kind', '01', '企业', 'Enterprise', NULL, 1),
    ('org_kind', '02', '个体工商户', 'Sole trader', NULL, 2),
    ('org_kind', '03', '社会组织', 'Social organization', NULL, 3),
    ('org_kind', '04', '机关事业单位', 'Public body', NULL, 4),
    ('org_kind', '99', '其他', 'Other', NULL, 5),
    -- GB/T 31000-2015 4.3 and 4.4
    ('special_care_kind', '01', '刑满释放人员', 'Released prisoner', NULL, 1),
    ('special_care_kind', '02', '社区矫正对象', 'Under community correction', NULL, 2),
    ('special_care_kind', '03', '严重精神障碍患者', 'Severe mental disorder', NULL, 3),
    ('special_care_kind', '04', '吸毒人员', 'Drug user', NULL, 4),
    ('special_care_kind', '05', '艾滋病危险人员', 'HIV risk', NULL, 5),
    ('special_care_kind', '06', '重点青少年', 'Key youth', NULL, 6),
    -- GB/T 31000-2015: 危险性评估等级 0-5 级, coded 01-06
    ('risk_level', '01', '0级', 'Level 0', NULL, 1),
    ('risk_level', '02', '1级', 'Level 1', NULL, 2),
    ('risk_level', '03', '2级', 'Level 2', NULL, 3),
    ('risk_level', '04', '3级', 'Level 3', NULL, 4),
    ('risk_level', '05', '4级', 'Level 4', NULL, 5),
    ('risk_level', '06', '5级', 'Level 5', NULL, 6),
    ('incident_category', '01', '社会治安', 'Public security', NULL, 1),
    ('incident_category', '02', '矛盾纠纷', 'Dispute', NULL, 2),
    ('incident_category', '03', '安全隐患', 'Safety hazard', NULL, 3),
    ('incident_category', '04', '环境卫生', 'Sanitation', NULL, 4),
    ('incident_category', '05', '消防安全', 'Fire safety', NULL, 5),
    ('incident_category', '06', '道路交通', 'Road traffic', NULL, 6),
    ('incident_category', '07', '校园周边安全', 'School surroundings', NULL, 7),
    ('incident_category', '08', '护路护线', 'Roads and lines', NULL, 8),
    ('incident_category', '09', '公共设施', 'Public facilities', NULL, 9),
    ('incident_category', '99', '其他', 'Other', NULL, 10),
    ('incident_source', '01', '网格员巡查', 'Gridworker patrol', NULL, 1),
    ('incident_source', '02', '义务网格员上报', 'Volunteer report', NULL, 2),
    ('incident_source', '03', '群众来电来访', 'Resident call or visit', NULL, 3),
    ('incident_source', '04', '随手拍', 'Snapshot report', NULL, 4),
    ('incident_source', '05', '部门转办', 'Referred by a department', NULL, 5),
    ('incident_source', '99', '其他', 'Other', NULL, 6),
    -- GB/T 31000-2015: 案（事）件分级, four levels
    ('severity', '1', '一般', 'Ordinary', NULL, 1),
    ('severity', '2', '较大', 'Serious', NULL, 2),
    ('severity', '3', '重大', 'Major', NULL, 3),
    ('severity', '4', '特别重大', 'Extraordinary', NULL, 4),
    ('department', 'police', '公安', 'Police', NULL, 1),
    ('department', 'justice', '司法', 'Justice', NULL, 2),
    ('department', 'education', '教育', 'Education', NULL, 3),
    ('department', 'health', '卫健', 'Health', NULL, 4),
    ('department', 'market', '市场监管', 'Market regulation', NULL, 5),
    ('department', 'emergency', '应急', 'Emergency management', NULL, 6),
    ('department', 'township', '镇街', 'Township office', NULL, 7),
    -- GB/T 31000-2015 4.7 事件类别, first level
    ('dispute_kind', '01', '婚恋家庭', 'Marriage and family', NULL, 1),
    ('dispute_kind', '02', '邻里', 'Neighbours', NULL, 2),
    ('dispute_kind', '03', '人格权', 'Personality rights', NULL, 3),
    ('dispute_kind', '04', '物权', 'Property rights', NULL, 4),
    ('dispute_kind', '05', '侵权', 'Tort', NULL, 5),
    ('dispute_kind', '06', '合同', 'Contract', NULL, 6),
    ('dispute_kind', '07', '劳动人事', 'Labour and personnel', NULL, 7),
    ('dispute_kind', '08', '金融借贷', 'Finance and lending', NULL, 8),
    ('dispute_kind', '09', '土地资源权属', 'Land and resource rights', NULL, 9),
    ('dispute_kind', '10', '其他民商事', 'Other civil and commercial', NULL, 10),
    ('dispute_kind', '11', '城乡建设', 'Urban and rural construction', NULL, 11),
    ('dispute_kind', '12', '涉民政', 'Civil affairs', NULL, 12),
    ('dispute_kind', '13', '其他行政执法', 'Other administrative enforcement', NULL, 13),
    ('dispute_kind', '14', '涉法涉诉', 'Litigation-related', NULL, 14),
    ('dispute_kind', '15', '涉组织涉纪检', 'Organization and discipline', NULL, 15),
    ('dispute_kind', '16', '涉民族宗教', 'Ethnicity and religion', NULL, 16),
    ('dispute_kind', '99', '其他', 'Other', NULL, 17),
    ('dispute_scale', '01', '个体性', 'Individual', NULL, 1),
    ('dispute_scale', '02', '一般群体性', 'Group', NULL, 2),
    ('dispute_scale', '03', '重大群体性', 'Major group', NULL, 3),
    ('mediation_method', '01', '调解', 'Mediation', NULL, 1),
    ('mediation_method', '02', '仲裁', 'Arbitration', NULL, 2),
    ('mediation_method', '03', '行政复议', 'Administrative review', NULL, 3),
    ('mediation_method', '04', '行政裁决', 'Administrative ruling', NULL, 4),
    ('mediation_method', '05', '诉讼', 'Litigation', NULL, 5),
    ('mediation_method', '06', '协商和解', 'Negotiated settlement', NULL, 6),
    ('volunteer_kind', '01', '快递员', 'Courier', NULL, 1),
    ('volunteer_kind', '02', '外卖骑手', 'Delivery rider', NULL, 2),
    ('volunteer_kind', '03', '网约车司机', 'Ride-hailing driver', NULL, 3),
    ('volunteer_kind', '04', '物业人员', 'Property staff', NULL, 4),
    ('volunteer_kind', '05', '居民志愿者', 'Resident volunteer', NULL, 5),
    ('volunteer_kind', '99', '其他', 'Other', NULL, 6),
    ('duty_kind', 'parent', '家长', 'Parent', NULL, 1),
    ('duty_kind', 'teacher', '教师', 'Teacher', NULL, 2),
    ('duty_kind', 'guard', '保安', 'Security guard', NULL, 3),
    ('duty_kind', 'police', '警察', 'Police', NULL, 4),
    ('event_role', 'clerk', '办事员', 'Clerk', NULL, 1),
    ('event_role', 'gridworker', '网格员', 'Gridworker', NULL, 2),
    ('event_role', 'volunteer', '义务网格员', 'Volunteer', NULL, 3),
    ('event_role', 'department', '职能部门', 'Department', NULL, 4),
    ('event_role', 'supervisor', '核查人员', 'Supervisor', NULL, 5),
    -- 人民调解: who brought the dispute, who answers it, and anyone else it touches
    ('party_role', '01', '申请人', 'Applicant', NULL, 1),
    ('party_role', '02', '被申请人', 'Respondent', NULL, 2),
    ('party_role', '03', '第三人', 'Third party', NULL, 3),
    ('party_role', '99', '其他当事人', 'Other party', NULL, 4),
    ('agreement_result', 'yes',     '达成协议',     'Agreement reached', NULL, 1),
    ('agreement_result', 'partial', '部分达成协议', 'Partly agreed',     NULL, 2),
    ('agreement_result', 'no',      '未达成协议',   'No agreement',      NULL, 3);

-- Fields. sensitive = sealed on disk; indexed = blind index (sensitive identifiers only).
INSERT INTO schema_fields
    (entity, name, position, type, label_zh, label_en, required, sensitive, indexed, rule, code_table, ref_entity, max_length, min_value, max_value, help_zh, help_en) VALUES
    -- 4.1 网格化建设
    ('grid', 'code',        1, 'text',    '网格编码',     'Grid code',        1, 0, 0, 'grid_code',     NULL, NULL, NULL, NULL, NULL, '12 位：乡镇代码 9 位 + 3 位', '12 digits: township code + 3'),
    ('grid', 'name',        2, 'text',    '网格名称',     'Grid name',        1, 0, 0, NULL,            NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('grid', 'township',    3, 'text',    '所属乡镇（街道）', 'Township',     1, 0, 0, 'township_code', NULL, NULL, NULL, NULL, NULL, '9 位乡镇代码', '9-digit township code'),
    ('grid', 'leader',      4, 'text',    '网格长',       'Grid leader',      0, 1, 0, NULL,            NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('grid', 'gridworker',  5, 'text',    '网格员',       'Gridworker',       0, 1, 0, NULL,            NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('grid', 'gridworker_phone', 6, 'text', '网格员联系方式', 'Gridworker phone', 0, 1, 0, 'phone',     NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('grid', 'households',  7, 'integer', '网格户数',     'Households',       0, 0, 0, NULL,            NULL, NULL, NULL, 0,    NULL, NULL, NULL),
    ('grid', 'area',        8, 'number',  '网格面积（平方公里）', 'Area (km²)', 0, 0, 0, NULL,          NULL, NULL, NULL, 0,    NULL, NULL, NULL),
    -- 4.2 实有人口: the person base fields
    ('person', 'name',            1, 'text', '姓名',         'Name',            1, 1, 1, NULL,                      NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('person', 'id_number',       2, 'text', '公民身份号码', 'ID number',       1, 1, 1, 'id_number',               NULL, NULL, 18,   NULL, NULL, '18 位，末位可为 X', '18 characters; the last may be X'),
    ('person', 'phone',           3, 'text', '联系方式',     'Phone',           0, 1, 1, 'phone',                   NULL, NULL, 50,   NULL, NULL, '手机或带区号的固定电话', 'mobile, or landline with area code'),
    ('person', 'gender',          4, 'code', '性别',         'Sex',             0, 1, 0, 'sex_of:id_number',        'gender', NULL, NULL, NULL, NULL, '不填则按身份证号', 'taken from the ID number if empty'),
    ('person', 'birth_date',      5, 'date', '出生日期',     'Birth date',      0, 1, 0, 'birth_date_of:id_number', NULL, NULL, NULL, NULL, NULL, '不填则按身份证号', 'taken from the ID number if empty'),
    ('person', 'former_name',     6, 'text', '曾用名',       'Former name',     0, 1, 0, NULL,                      NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('person', 'ethnicity',       7, 'text', '民族',         'Ethnicity',       0, 1, 0, NULL,                      NULL, NULL, 20,   NULL, NULL, NULL, NULL),
    ('person', 'address',         8, 'text', '现住地详址',   'Current address', 0, 1, 0, NULL,                      NULL, NULL, 200,  NULL, NULL, NULL, NULL),
    ('person', 'household_address', 9, 'text', '户籍地详址', 'Registered address', 0, 1, 0, NULL,                  NULL, NULL, 200,  NULL, NULL, NULL, NULL),
    ('person', 'grid',           10, 'text', '所属网格',     'Grid',            1, 0, 0, 'grid_code',               NULL, NULL, NULL, NULL, NULL, '12 位网格编码', '12-digit grid code'),
    ('person', 'population_type', 11, 'code', '人口类型',    'Population type', 0, 0, 0, NULL,                      'population_type', NULL, NULL, NULL, NULL, NULL, NULL),
    ('person', 'notes',          12, 'text', '备注',         'Notes',           0, 1, 0, NULL,                      NULL, NULL, 1000, NULL, NULL, NULL, NULL),
    -- 4.1 楼栋 / 4.2 出租房
    ('building', 'address',    1, 'text',    '楼栋地址',   'Address',     1, 1, 0, NULL,        NULL, NULL, 200,  NULL, NULL, NULL, NULL),
    ('building', 'grid',       2, 'text',    '所属网格',   'Grid',        1, 0, 0, 'grid_code', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('building', 'community',  3, 'text',    '小区',       'Estate',      0, 0, 0, NULL,        NULL, NULL, 100,  NULL, NULL, NULL, NULL),
    ('building', 'floors',     4, 'integer', '层数',       'Floors',      0, 0, 0, NULL,        NULL, NULL, NULL, 1,    200,  NULL, NULL),
    ('building', 'units',      5, 'integer', '单元数',     'Units',       0, 0, 0, NULL,        NULL, NULL, NULL, 0,    NULL, NULL, NULL),
    ('building', 'households', 6, 'integer', '户数',       'Households',  0, 0, 0, NULL,        NULL, NULL, NULL, 0,    NULL, NULL, NULL),
    ('building', 'use',        7, 'code',    '建筑用途',   'Use',         0, 0, 0, NULL,        'building_use', NULL, NULL, NULL, NULL, NULL, NULL),
    ('building', 'head',       8, 'text',    '楼栋长',     'Building head', 0, 1, 0, NULL,      NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('house', 'building',  1, 'ref',     '所属楼栋',   'Building',   1, 0, 0, NULL,        NULL, 'building', NULL, NULL, NULL, NULL, NULL),
    ('house', 'room',      2, 'text',    '房号',       'Room',       1, 0, 0, NULL,        NULL, NULL, 20,   NULL, NULL, NULL, NULL),
    ('house', 'grid',      3, 'text',    '所属网格',   'Grid',       1, 0, 0, 'grid_code', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('house', 'use',       4, 'code',    '房屋用途',   'Use',        0, 0, 0, NULL,        'house_use', NULL, NULL, NULL, NULL, NULL, NULL),
    ('house', 'area',      5, 'number',  '建筑面积（平方米）', 'Floor area (m²)', 0, 0, 0, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL),
    ('house', 'owner',     6, 'text',    '房主',       'Owner',      0, 1, 0, NULL,        NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('house', 'owner_phone', 7, 'text',  '房主联系方式', 'Owner phone', 0, 1, 0, 'phone',   NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('house', 'is_rental', 8, 'boolean', '是否出租房', 'Rented out', 0, 0, 0, NULL,        NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('house', 'tenant',    9, 'text',    '承租人',     'Tenant',     0, 1, 0, NULL,        NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    -- 4.5 非公有制经济组织和社会组织: business names and credit codes are public registers
    ('organization', 'name',        1, 'text', '单位名称',         'Name',        1, 0, 0, NULL,          NULL, NULL, 100, NULL, NULL, NULL, NULL),
    ('organization', 'credit_code', 2, 'text', '统一社会信用代码', 'Credit code', 0, 0, 0, 'credit_code', NULL, NULL, 18,  NULL, NULL, '18 位', '18 characters'),
    ('organization', 'org_kind',    3, 'code', '单位类别',         'Kind',        0, 0, 0, NULL,          'org_kind', NULL, NULL, NULL, NULL, NULL, NULL),
    ('organization', 'address',     4, 'text', '单位地址',         'Address',     1, 1, 0, NULL,          NULL, NULL, 200, NULL, NULL, NULL, NULL),
    ('organization', 'grid',        5, 'text', '所属网格',         'Grid',        1, 0, 0, 'grid_code',   NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('organization', 'legal_rep',   6, 'text', '法定代表人',       'Legal representative', 0, 1, 0, NULL, NULL, NULL, 50,  NULL, NULL, NULL, NULL),
    ('organization', 'phone',       7, 'text', '联系方式',         'Phone',       0, 1, 1, 'phone',       NULL, NULL, 50,  NULL, NULL, NULL, NULL),
    ('organization', 'employees',   8, 'integer', '从业人数',      'Employees',   0, 0, 0, NULL,          NULL, NULL, NULL, 0, NULL, NULL, NULL),
    -- 4.3 特殊人群: the kind itself says something about a person, so it is sealed
    ('special_care', 'person',         1, 'ref',     '人员',         'Person',         1, 0, 0, NULL,        NULL, 'person', NULL, NULL, NULL, NULL, NULL),
    ('special_care', 'kind',           2, 'code',    '特殊人群类别', 'Kind',           1, 1, 0, NULL,        'special_care_kind', NULL, NULL, NULL, NULL, NULL, NULL),
    ('special_care', 'risk_level',     3, 'code',    '危险性评估等级', 'Risk level',   0, 1, 0, NULL,        'risk_level', NULL, NULL, NULL, NULL, NULL, NULL),
    ('special_care', 'grid',           4, 'text',    '所属网格',     'Grid',           1, 0, 0, 'grid_code', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('special_care', 'follow_up_days', 5, 'integer', '走访周期（天）', 'Follow-up every (days)', 0, 0, 0, NULL, NULL, NULL, NULL, 1, 365, '按风险等级设定', 'set by risk level'),
    ('special_care', 'next_follow_up', 6, 'date',    '下次走访日期', 'Next follow-up', 0, 0, 0, NULL,        NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('special_care', 'guardian_name',  7, 'text',    '监护人姓名',   'Guardian',       0, 1, 0, NULL,        NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('special_care', 'guardian_phone', 8, 'text',    '监护人联系方式', 'Guardian phone', 0, 1, 0, 'phone',   NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('special_care', 'notes',          9, 'text',    '帮扶情况',     'Assistance notes', 0, 1, 0, NULL,      NULL, NULL, 2000, NULL, NULL, NULL, NULL),
    -- 4.6 社会治安 events; the five-step history lives in step events (issue 3)
    ('incident', 'category',       1, 'code',     '事件类别',   'Category',       1, 0, 0, NULL,        'incident_category', NULL, NULL, NULL, NULL, NULL, NULL),
    ('incident', 'title',          2, 'text',     '事件名称',   'Title',          1, 1, 0, NULL,        NULL, NULL, 100,  NULL, NULL, NULL, NULL),
    ('incident', 'description',    3, 'text',     '事件简述',   'Description',    0, 1, 0, NULL,        NULL, NULL, 4000, NULL, NULL, NULL, NULL),
    ('incident', 'location',       4, 'text',     '发生地点',   'Location',       0, 1, 0, NULL,        NULL, NULL, 200,  NULL, NULL, NULL, NULL),
    ('incident', 'grid',           5, 'text',     '所属网格',   'Grid',           1, 0, 0, 'grid_code', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('incident', 'source',         6, 'code',     '事件来源',   'Source',         0, 0, 0, NULL,        'incident_source', NULL, NULL, NULL, NULL, NULL, NULL),
    ('incident', 'severity',       7, 'code',     '事件分级',   'Severity',       0, 0, 0, NULL,        'severity', NULL, NULL, NULL, NULL, NULL, NULL),
    ('incident', 'occurred_at',    8, 'datetime', '发生时间',   'Occurred at',    0, 0, 0, NULL,        NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('incident', 'reporter',       9, 'text',     '报告人',     'Reporter',       0, 1, 0, NULL,        NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('incident', 'reporter_phone', 10, 'text',    '报告人联系方式', 'Reporter phone', 0, 1, 0, 'phone', NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('incident', 'departments',    11, 'codes',   '处置部门',   'Departments',    0, 0, 0, NULL,        'department', NULL, NULL, NULL, NULL, NULL, NULL),
    ('incident', 'volunteer',      12, 'ref',     '上报志愿者', 'Reporting volunteer', 0, 0, 0, NULL,   NULL, 'volunteer', NULL, NULL, NULL, '义务网格员上报时填写，用于积分', 'when a volunteer reported it (points)'),
    -- one step of the five-step loop: appended, never changed
    ('incident_event', 'incident',    1, 'ref',      '事件',     'Incident',   1, 0, 0, NULL,        NULL, 'incident', NULL, NULL, NULL, NULL, NULL),
    ('incident_event', 'step',        2, 'text',     '环节',     'Step',       1, 0, 0, NULL,        NULL, NULL, 20,   NULL, NULL, NULL, NULL),
    ('incident_event', 'at',          3, 'datetime', '时间',     'At',         1, 0, 0, NULL,        NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('incident_event', 'actor',       4, 'text',     '经办人',   'By',         0, 1, 0, NULL,        NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('incident_event', 'role',        5, 'code',     '角色',     'Role',       0, 0, 0, NULL,        'event_role', NULL, NULL, NULL, NULL, NULL, NULL),
    ('incident_event', 'department',  6, 'code',     '处置部门', 'Department', 0, 0, 0, NULL,        'department', NULL, NULL, NULL, NULL, NULL, NULL),
    ('incident_event', 'note',        7, 'text',     '情况说明', 'Note',       0, 1, 0, NULL,        NULL, NULL, 2000, NULL, NULL, NULL, NULL),
    ('incident_event', 'attachments', 8, 'texts',    '附件',     'Attachments', 0, 0, 0, NULL,       NULL, NULL, 64,   NULL, NULL, '附件编号', 'attachment ids'),
    ('incident_event', 'grid',        9, 'text',     '所属网格', 'Grid',       1, 0, 0, 'grid_code', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    -- 4.7 矛盾纠纷排查化解
    ('dispute', 'kind',             1, 'code',    '事件类别',   'Kind',            1, 0, 0, NULL,        'dispute_kind', NULL, NULL, NULL, NULL, NULL, NULL),
    ('dispute', 'parties',          2, 'texts',   '主要当事人', 'Parties',         1, 1, 0, NULL,        NULL, NULL, 50,   NULL, NULL, '每行一人', 'one person per entry'),
    ('dispute', 'description',      3, 'text',    '事件简述',   'Description',     0, 1, 0, NULL,        NULL, NULL, 4000, NULL, NULL, NULL, NULL),
    ('dispute', 'grid',             4, 'text',    '所属网格',   'Grid',            1, 0, 0, 'grid_code', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('dispute', 'scale',            5, 'code',    '事件规模',   'Scale',           0, 0, 0, NULL,        'dispute_scale', NULL, NULL, NULL, NULL, NULL, NULL),
    ('dispute', 'involved_count',   6, 'integer', '涉及人数',   'People involved', 0, 0, 0, NULL,        NULL, NULL, NULL, 1,    NULL, NULL, NULL),
    ('dispute', 'occurred_on',      7, 'date',    '发生日期',   'Occurred on',     0, 0, 0, NULL,        NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('dispute', 'location',         8, 'text',    '发生地点',   'Location',        0, 1, 0, NULL,        NULL, NULL, 200,  NULL, NULL, NULL, NULL),
    ('dispute', 'mediation_method', 9, 'code',    '化解方式',   'Mediation method', 0, 0, 0, NULL,       'mediation_method', NULL, NULL, NULL, NULL, NULL, NULL),
    ('dispute', 'deadline',        10, 'date',    '化解时限',   'Deadline',        0, 0, 0, NULL,        NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('dispute_event', 'dispute',  1, 'ref',      '纠纷',     'Dispute',    1, 0, 0, NULL,        NULL, 'dispute', NULL, NULL, NULL, NULL, NULL),
    ('dispute_event', 'step',     2, 'text',     '环节',     'Step',       1, 0, 0, NULL,        NULL, NULL, 20,   NULL, NULL, NULL, NULL),
    ('dispute_event', 'at',       3, 'datetime', '时间',     'At',         1, 0, 0, NULL,        NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('dispute_event', 'actor',    4, 'text',     '调解人',   'Mediator',   0, 1, 0, NULL,        NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('dispute_event', 'role',     5, 'code',     '角色',     'Role',       0, 0, 0, NULL,        'event_role', NULL, NULL, NULL, NULL, NULL, NULL),
    ('dispute_event', 'method',   6, 'code',     '化解方式', 'Method',     0, 0, 0, NULL,        'mediation_method', NULL, NULL, NULL, NULL, NULL, NULL),
    ('dispute_event', 'note',     7, 'text',     '化解情况', 'Note',       0, 1, 0, NULL,        NULL, NULL, 2000, NULL, NULL, NULL, NULL),
    ('dispute_event', 'grid',     8, 'text',     '所属网格', 'Grid',       1, 0, 0, 'grid_code', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('dispute_event', 'agreement',      9, 'code', '是否达成协议', 'Agreement reached', 0, 0, 0, NULL, 'agreement_result', NULL, NULL, NULL, NULL, NULL, NULL),
    ('dispute_event', 'agreement_text', 10, 'text', '协议内容',   'Agreement',  0, 1, 0, NULL,        NULL, NULL, 2000, NULL, NULL, '达成或部分达成协议时填写', 'when all or part was agreed'),
    -- the parties of a dispute, one record each: names, ID numbers and phones sealed
    ('dispute_party', 'dispute',   1, 'ref',  '纠纷',         'Dispute',   1, 0, 0, NULL,        NULL, 'dispute', NULL, NULL, NULL, NULL, NULL),
    ('dispute_party', 'name',      2, 'text', '姓名',         'Name',      1, 1, 0, NULL,        NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('dispute_party', 'role',      3, 'code', '当事人角色',   'Role',      1, 0, 0, NULL,        'party_role', NULL, NULL, NULL, NULL, NULL, NULL),
    ('dispute_party', 'id_number', 4, 'text', '公民身份号码', 'ID number', 0, 1, 0, 'id_number', NULL, NULL, 18,   NULL, NULL, NULL, NULL),
    ('dispute_party', 'phone',     5, 'text', '联系方式',     'Phone',     0, 1, 0, 'phone',     NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('dispute_party', 'grid',      6, 'text', '所属网格',     'Grid',      1, 0, 0, 'grid_code', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    -- 义务网格员 (couriers and riders bound to grids)
    ('volunteer', 'name',        1, 'text',  '姓名',         'Name',        1, 1, 1, NULL,        NULL, NULL, 50,  NULL, NULL, NULL, NULL),
    ('volunteer', 'phone',       2, 'text',  '手机号码',     'Mobile',      1, 1, 1, 'mobile',    NULL, NULL, 20,  NULL, NULL, NULL, NULL),
    ('volunteer', 'id_number',   3, 'text',  '公民身份号码', 'ID number',   0, 1, 1, 'id_number', NULL, NULL, 18,  NULL, NULL, NULL, NULL),
    ('volunteer', 'kind',        4, 'code',  '志愿者类别',   'Kind',        0, 0, 0, NULL,        'volunteer_kind', NULL, NULL, NULL, NULL, NULL, NULL),
    ('volunteer', 'affiliation', 5, 'text',  '所属单位',     'Affiliation', 0, 0, 0, NULL,        NULL, NULL, 100, NULL, NULL, '如快递公司、外卖平台', 'e.g. a courier company'),
    ('volunteer', 'grid',        6, 'text',  '主网格',       'Home grid',   1, 0, 0, 'grid_code', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('volunteer', 'grids',       7, 'texts', '绑定网格',     'Bound grids', 0, 0, 0, 'grid_code', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('checkin', 'volunteer', 1, 'ref',  '志愿者',   'Volunteer',    1, 0, 0, NULL,        NULL, 'volunteer', NULL, NULL, NULL, NULL, NULL),
    ('checkin', 'day',       2, 'date', '签到日期', 'Day',          1, 0, 0, NULL,        NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('checkin', 'station',   3, 'text', '驿站',     'Rest station', 0, 0, 0, NULL,        NULL, NULL, 100,  NULL, NULL, NULL, NULL),
    ('checkin', 'grid',      4, 'text', '所属网格', 'Grid',         1, 0, 0, 'grid_code', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('checkin', 'note',      5, 'text', '备注',     'Note',         0, 1, 0, NULL,        NULL, NULL, 500,  NULL, NULL, NULL, NULL),
    -- 4.8 校园及周边安全: 护学岗
    ('duty_post', 'school',  1, 'text', '学校',     'School',    1, 0, 0, NULL,        NULL, NULL, 100, NULL, NULL, NULL, NULL),
    ('duty_post', 'name',    2, 'text', '岗点名称', 'Post name', 1, 0, 0, NULL,        NULL, NULL, 100, NULL, NULL, '如东门', 'e.g. east gate'),
    ('duty_post', 'address', 3, 'text', '地址',     'Address',   0, 0, 0, NULL,        NULL, NULL, 200, NULL, NULL, NULL, NULL),
    ('duty_post', 'grid',    4, 'text', '所属网格', 'Grid',      1, 0, 0, 'grid_code', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('duty_shift', 'post',        1, 'ref',  '岗点',       'Post',        1, 0, 0, NULL,        NULL, 'duty_post', NULL, NULL, NULL, NULL, NULL),
    ('duty_shift', 'day',         2, 'date', '日期',       'Day',         1, 0, 0, NULL,        NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('duty_shift', 'start_time',  3, 'text', '开始时间',   'Starts',      1, 0, 0, 'time_of_day',        NULL, NULL, 5,    NULL, NULL, 'HH:MM', 'HH:MM'),
    ('duty_shift', 'end_time',    4, 'text', '结束时间',   'Ends',        1, 0, 0, 'time_of_day',        NULL, NULL, 5,    NULL, NULL, 'HH:MM', 'HH:MM'),
    ('duty_shift', 'kind',        5, 'code', '人员类别',   'Guard kind',  1, 0, 0, NULL,        'duty_kind', NULL, NULL, NULL, NULL, NULL, NULL),
    ('duty_shift', 'person_name', 6, 'text', '值守人员',   'Guard',       0, 1, 0, NULL,        NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('duty_shift', 'phone',       7, 'text', '联系方式',   'Phone',       0, 1, 0, 'phone',     NULL, NULL, 50,   NULL, NULL, NULL, NULL),
    ('duty_shift', 'grid',        8, 'text', '所属网格',   'Grid',        1, 0, 0, 'grid_code', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('duty_shift', 'signed_in_at',  9, 'datetime', '签到时间', 'Signed in',  0, 0, 0, NULL,    NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('duty_shift', 'signed_out_at', 10, 'datetime', '签退时间', 'Signed out', 0, 0, 0, NULL,   NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    -- a file on a record (随手拍 photos, scanned agreements): its bytes are in `blobs`
    ('attachment', 'record',        1, 'ref',     '所属记录', 'Belongs to',   1, 0, 0, NULL,        NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('attachment', 'record_entity', 2, 'text',    '记录类型', 'Record type',  1, 0, 0, NULL,        NULL, NULL, 64,   NULL, NULL, NULL, NULL),
    ('attachment', 'name',          3, 'text',    '文件名',   'File name',    1, 1, 0, NULL,        NULL, NULL, 200,  NULL, NULL, NULL, NULL),
    ('attachment', 'media_type',    4, 'text',    '文件类型', 'Media type',   1, 0, 0, NULL,        NULL, NULL, 100,  NULL, NULL, NULL, NULL),
    ('attachment', 'size',          5, 'integer', '大小（字节）', 'Size (bytes)', 1, 0, 0, NULL,    NULL, NULL, NULL, 1,    NULL, NULL, NULL),
    ('attachment', 'sha256',        6, 'text',    'SHA-256',  'SHA-256',      1, 0, 0, 'sha256',    NULL, NULL, 64,   NULL, NULL, '文件内容的指纹', 'fingerprint of the content'),
    ('attachment', 'note',          7, 'text',    '说明',     'Note',         0, 1, 0, NULL,        NULL, NULL, 500,  NULL, NULL, NULL, NULL),
    ('attachment', 'original',      8, 'boolean', '原图',     'Original',     0, 0, 0, NULL,        NULL, NULL, NULL, NULL, NULL, '未缩小的原始照片', 'the photo as taken, not shrunk'),
    ('attachment', 'grid',          9, 'text',    '所属网格', 'Grid',         1, 0, 0, 'grid_code', NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- Attachments: photos and scans on cases and their steps, up to 10 MiB each (after a photo is
-- shrunk on the station).
INSERT INTO attachment_rules (entity, max_bytes, types) VALUES
    ('incident',       10485760, '["image/jpeg", "image/png", "application/pdf"]'),
    ('incident_event', 10485760, '["image/jpeg", "image/png", "application/pdf"]'),
    ('dispute',        10485760, '["image/jpeg", "image/png", "application/pdf"]'),
    ('dispute_event',  10485760, '["image/jpeg", "image/png", "application/pdf"]');
