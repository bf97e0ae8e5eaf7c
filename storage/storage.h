/* storage.h - the whole interface to mailagent's durable state (except the node-local spool, see
 * spool.h). Callers never see SQL: every operation is a function here, dispatched through a table
 * of backend functions (storage_backend.h), so a PostgreSQL backend can be added without touching
 * callers. The SQLite backend (storage_sqlite_*.c, schema in storage_migrations.c) is the only place
 * SQL appears.
 *
 * Conventions: functions return 0 / -1 (GError, domain MA_ERROR), look-ups 1 found / 0 not found /
 * -1 error. Every query is scoped by enterprise_id: no function reads or writes across tenants
 * except the few marked "admin". Structures returned through out-parameters are newly allocated
 * and owned by the caller (free with the matching _free, which accepts NULL); GPtrArray outputs
 * are created by the caller with the right free function and appended to.
 *
 * Threads: a MaStorage handle is used by one thread at a time. Each thread opens its own handle on
 * the same data directory; SQLite serialises writers (WAL, busy timeout), and a busy database gives
 * MA_ERROR_TEMPFAIL, never a lost write.
 */
#ifndef MA_STORAGE_H
#define MA_STORAGE_H

#include "agent/lib/error.h"
#include "agent/lib/model.h"

#include <glib.h>

typedef struct MaStorage MaStorage;

/* ---- lifecycle ------------------------------------------------------------------------------ */

/* Chooses the database of every later storage_open in this process ([storage] backend): "sqlite"
 * (the default: a file under the data directory) or "postgresql" (conninfo: a libpq connection
 * string without a password). Call once, after reading the configuration and before the first
 * storage_open. -1 with *error (MA_ERROR_INVALID) for an unknown name, a missing conninfo, or a
 * backend that does not implement every storage function yet (PostgreSQL, for now: it names how
 * many it does). */
int storage_select_backend(const char *name, const char *conninfo, GError **error);
/* Opens (creating when create is TRUE) the database under data_dir (SQLite) or at the selected
 * conninfo (PostgreSQL) and applies pending migrations. *out is owned by the caller; close with
 * storage_close. */
int storage_open(const char *data_dir, gboolean create, MaStorage **out, GError **error);
/* Closes and sets *st to NULL. Accepts NULL and *st == NULL. */
void storage_close(MaStorage **st);
int storage_schema_version(MaStorage *st);
/* The database library linked at run time, e.g. "SQLite 3.40.1", for `mailagent version`. Caller
 * frees. */
char *storage_library_version(void);
/* Process-wide ([storage] busy_timeout): how long a database call, on the archive or the spool,
 * waits for another writer's lock before it fails with MA_ERROR_TEMPFAIL (<= 0: the default,
 * 10 s). Applies to calls made after it, on every handle; thread-safe. */
void storage_set_busy_timeout(int ms);

/* Transactions group many writes into one durable commit (one fsync). Nesting is not allowed.
 * Outside a transaction every write function is atomic on its own; inside one, a write function
 * that fails undoes only its own changes and the transaction stays usable (unless the database
 * itself aborted it, in which case storage_commit reports MA_ERROR_TEMPFAIL). */
int storage_begin(MaStorage *st, GError **error);
/* Like storage_begin, for callers that give up the whole group when any step fails (the pipeline's
 * batches): a write function that fails does not undo its own changes, it spoils the transaction
 * instead. After that every write function and storage_commit fail with MA_ERROR_TEMPFAIL, and
 * reads may see the failed write's partial changes, until storage_rollback. Saves one savepoint
 * per write; PostgreSQL transactions behave this way natively (an error aborts the transaction). */
int storage_begin_batch(MaStorage *st, GError **error);
int storage_commit(MaStorage *st, GError **error);
void storage_rollback(MaStorage *st);

/* Test hook: when set, the next n commits fail with MA_ERROR_TEMPFAIL as if fsync failed. */
void storage_fault_inject_commit_failures(MaStorage *st, int n);

/* Test hook: with full TRUE the database may not grow any more (as if the disk were full): writes
 * that need a new page fail with MA_ERROR_TEMPFAIL and roll back. FALSE lifts the limit. */
void storage_fault_inject_disk_full(MaStorage *st, gboolean full);

/* Test hook: appends the text of every statement this handle has prepared so far (char*, owned by
 * out), i.e. the queries the code behind this handle actually ran, so a test can check their
 * plans (storage/query-plans) instead of copies of them. For SQLite: the SQL text of its
 * statement cache; another backend lists its own statements. */
void storage_debug_statements(MaStorage *st, GPtrArray *out);

/* Test hook: runs the one statement sql, as given (no parameters), on this handle's own connection
 * and appends each row to rows (char*, owned by rows) as its columns' text joined by '|', NULL as
 * an empty string. For tests that read what no interface function returns (EXPLAIN QUERY PLAN of
 * the statements above; for SQLite on the connection that has the search tokenizer and ma_rank,
 * which a plain connection lacks). Not cached: storage_debug_statements does not list it. */
int storage_debug_query(MaStorage *st, const char *sql, GPtrArray *rows, GError **error);

/* Moves everything committed into the database file itself and empties the write-ahead log (for
 * SQLite: wal_checkpoint(TRUNCATE)), so what is on disk opens without replaying a log: `serve`
 * calls it on a clean stop. MA_ERROR_TEMPFAIL when it could not finish (a reader still busy, disk
 * full): nothing is lost, the log is replayed at the next open. */
int storage_checkpoint(MaStorage *st, GError **error);

/* A number that changes whenever a write was committed to the database (by any handle, this one
 * included) since the previous call on this handle; equal values mean nothing changed. Cheap and
 * outside any transaction: meant for caches of read results. Never decreases. */
gint64 storage_data_version(MaStorage *st);

/* ---- enterprises, domains, inbound addresses ------------------------------------------------ */

typedef struct {
  char *id;
  char *slug;             /* lower-case [a-z0-9-], unique */
  char *name;
  char *inbound_local;    /* local part of the current virtual inbound address */
  GPtrArray *domains;     /* char*, lower-case */
  gint64 created_at;
} MaEnterprise;

void ma_enterprise_free(MaEnterprise *e);

/* Creates an enterprise (e->id, slug, name, inbound_local, domains filled by the caller). Fails with
 * MA_ERROR_CONFLICT when the slug or a domain is already taken by another enterprise. */
int storage_enterprise_create(MaStorage *st, const MaEnterprise *e, GError **error);
/* Deletes the enterprise and every row that belongs to it (records, mail, activities, keys, rules,
 * settings, webhook events, audit entries, and whatever later tables key by enterprise), and every
 * blob no other enterprise's message still references (blobs are shared by digest). One
 * transaction. 1 deleted, 0 no such enterprise. */
int storage_enterprise_delete(MaStorage *st, const char *enterprise_id, GError **error);
/* Finds by id or by slug. */
int storage_enterprise_get(MaStorage *st, const char *id_or_slug, MaEnterprise **out, GError **error);
/* admin: all enterprises, oldest first. out: MaEnterprise*. */
int storage_enterprise_list(MaStorage *st, GPtrArray *out, GError **error);
int storage_enterprise_domain_add(MaStorage *st, const char *enterprise_id, const char *domain, GError **error);
/* 1 removed, 0 not there. */
int storage_enterprise_domain_remove(MaStorage *st, const char *enterprise_id, const char *domain, GError **error);

/* Finds the enterprise whose live virtual inbound address has this local part (case-insensitive).
 * An address replaced by rotation stays live until its grace period ends (compared with now). */
int storage_inbound_lookup(MaStorage *st, const char *local_part, gint64 now, char **enterprise_id,
                           GError **error);
/* Makes new_local the current address; the old one stays live until old_expires_at. */
int storage_inbound_rotate(MaStorage *st, const char *enterprise_id, const char *new_local,
                           gint64 old_expires_at, GError **error);
/* Live addresses of an enterprise. out: char* local parts, current first. */
int storage_inbound_list(MaStorage *st, const char *enterprise_id, gint64 now, GPtrArray *out, GError **error);

typedef struct {
  char *local;            /* lower-case local part */
  char *enterprise_id;
  gint64 expires_at;      /* 0 for a current address, else live until then */
} MaInboundAddress;

void ma_inbound_address_free(MaInboundAddress *a);

/* Every address of every enterprise live at now (for the SMTP server's RCPT-time snapshot).
 * out: MaInboundAddress*, newly allocated (out's free function should be ma_inbound_address_free). */
int storage_inbound_all(MaStorage *st, gint64 now, GPtrArray *out, GError **error);

/* A number that changes with every commit that changes what RCPT-time look-ups read: enterprises,
 * their domains, inbound addresses, employees and settings (kept by triggers). Compare it, never
 * interpret it. */
int storage_tenant_version(MaStorage *st, gint64 *out, GError **error);

/* A number that changes with every commit that changes what one enterprise's timeline pages read:
 * its timeline (new messages, links and activities), message and activity updates and deletions,
 * records created or deleted. Commits of other enterprises leave it alone, so a cache of one
 * tenant's pages survives the others' mail (agent/api's page cache reads it when
 * storage_data_version moved). An enterprise never changed reads 0. Compare it, never interpret
 * it. 0 with *out, or -1 with *error (MA_ERROR_TEMPFAIL). */
int storage_archive_version(MaStorage *st, const char *enterprise_id, gint64 *out, GError **error);

/* ---- employees ------------------------------------------------------------------------------ */

typedef struct {
  char *id;
  char *enterprise_id;
  char *email;            /* lower-cased */
  char *name;             /* NULL when none */
  gint64 created_at;
} MaEmployee;

void ma_employee_free(MaEmployee *e);

/* MA_ERROR_CONFLICT when the address is already an employee of this enterprise. */
int storage_employee_add(MaStorage *st, const MaEmployee *e, GError **error);
/* Removes by id or e-mail address: 1 removed, 0 not found. */
int storage_employee_remove(MaStorage *st, const char *enterprise_id, const char *id_or_email, GError **error);
int storage_employee_find(MaStorage *st, const char *enterprise_id, const char *id_or_email,
                          MaEmployee **out, GError **error);
int storage_employee_list(MaStorage *st, const char *enterprise_id, GPtrArray *out, GError **error);

/* ---- API keys ------------------------------------------------------------------------------- */

typedef struct {
  char *id;
  char *enterprise_id;    /* NULL for an admin key */
  char *label;
  char *prefix;           /* first characters of the key, shown in listings */
  gint64 created_at;
  gint64 revoked_at;      /* 0 while valid */
} MaApiKey;

void ma_api_key_free(MaApiKey *k);

/* Stores a key by the hex SHA-256 of its secret; the secret itself is never stored. */
int storage_apikey_add(MaStorage *st, const MaApiKey *k, const char *secret_hash, GError **error);
/* Finds an unrevoked key by hash. */
int storage_apikey_find(MaStorage *st, const char *secret_hash, MaApiKey **out, GError **error);
/* enterprise_id NULL lists admin keys; out: MaApiKey*. */
int storage_apikey_list(MaStorage *st, const char *enterprise_id, GPtrArray *out, GError **error);
int storage_apikey_get(MaStorage *st, const char *id, MaApiKey **out, GError **error);
/* 1 revoked now, 0 no such key or already revoked. */
int storage_apikey_revoke(MaStorage *st, const char *id, gint64 now, GError **error);

/* ---- per-enterprise settings ---------------------------------------------------------------- */

/* Values are text; the meaning and defaults of keys belong to the caller (see agent/lib/settings).
 * storage_setting_set with value NULL removes the key. get: 1 found, 0 not set. */
int storage_setting_get(MaStorage *st, const char *enterprise_id, const char *key, char **value, GError **error);
int storage_setting_set(MaStorage *st, const char *enterprise_id, const char *key, const char *value, GError **error);
/* out: key -> value, both g_strdup'd (create with g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free)). */
int storage_setting_list(MaStorage *st, const char *enterprise_id, GHashTable *out, GError **error);

/* ---- the installation's shared values ---------------------------------------------------------- */

/* Values every node of one installation shares and no enterprise owns: "master_key_check" (the
 * check value of the master key, agent/lib/crypto.h) tells a node joining the database whether its
 * key file is the installation's. A value is set once and never changed: two nodes setting the
 * same name at once both get the one the database kept.
 * get: 1 found (*value, caller frees), 0 not set. */
int storage_installation_get(MaStorage *st, const char *name, char **value, GError **error);
/* Stores value under name unless the name has a value already. 1 stored now, 0 it had one;
 * *stored (caller frees) gets the value the database keeps either way. */
int storage_installation_set_once(MaStorage *st, const char *name, const char *value, char **stored, GError **error);

/* ---- leaders of scheduled jobs ------------------------------------------------------------------ */

/* Scheduled work of `serve` that must run once in the cluster (domain re-verification, purges,
 * retention) is led by one node at a time: before a round, a node asks for the lease of the job
 * named job until `until`. 1 granted: there was no lease, it is owner's own (renewed to until) or
 * it ran out (lease_until <= now, a node that died or stopped); 0 another owner holds it (skip the
 * round). Two nodes asking at once: exactly one is granted. owner must be unique per process
 * (agent/lib/node.h). A leader that stops hands the job over at once by asking with until = now. */
int storage_job_lease(MaStorage *st, const char *job, const char *owner, gint64 now, gint64 until, GError **error);

/* ---- CRM records ---------------------------------------------------------------------------- */

/* Inserts or replaces by (enterprise, type, id), with its e-mail, domain and contact indexes. */
int storage_record_upsert(MaStorage *st, const char *enterprise_id, const MaRecord *r, GError **error);
/* 1 deleted, 0 not found. Links of archived messages to it are kept (history stays). */
int storage_record_delete(MaStorage *st, const char *enterprise_id, MaRecordType type, const char *id, GError **error);
int storage_record_get(MaStorage *st, const char *enterprise_id, MaRecordType type, const char *id,
                       MaRecord **out, GError **error);
/* A page of records of one type ordered by id, after `after_id` (NULL: from the start). */
int storage_record_list(MaStorage *st, const char *enterprise_id, MaRecordType type, const char *after_id,
                        int limit, GPtrArray *out, GError **error);

/* Matching look-ups. out: MaRecord* (newly allocated, the caller frees them) carrying what matching
 * reads and no more: type, id, account_id, and stage for the opportunity look-ups (0 otherwise);
 * name, lists and attributes are left empty (storage_record_get reads a whole record). Each reads
 * an index, never the records rows (SQLite migration 174, PostgreSQL 055).
 * Contacts and leads (and accounts listing the address) having this address; address_key is
 * lower-case; with ignore_plus the comparison ignores "+tag" in the local part on both sides. */
int storage_records_by_email(MaStorage *st, const char *enterprise_id, const char *address_key,
                             gboolean ignore_plus, GPtrArray *out, GError **error);
int storage_accounts_by_domain(MaStorage *st, const char *enterprise_id, const char *domain, GPtrArray *out, GError **error);
/* Open opportunities (stage open, or no stage) whose contact_ids include contact_id. */
int storage_opportunities_open_for_contact(MaStorage *st, const char *enterprise_id, const char *contact_id,
                                           GPtrArray *out, GError **error);
int storage_opportunities_open_for_account(MaStorage *st, const char *enterprise_id, const char *account_id,
                                           GPtrArray *out, GError **error);

/* ---- blobs (raw messages, attachments): content-addressed by sha256 ------------------------- */

/* Stores data unless a blob with that digest exists; writes the hex digest to sha256_out. Durable
 * with the enclosing transaction's commit. Blobs are shared between enterprises by digest: before
 * serving one to a tenant, check storage_attachment_visible (or that it is the tenant's raw_sha256).
 * Insert the row that references the blob in the same transaction (storage_begin or a batch): an
 * erasure on another connection that would delete the blob found here waits for that transaction
 * and then sees the reference (test_storage_blob_race); a reference inserted in a later
 * transaction may find the blob erased. */
int storage_blob_put(MaStorage *st, const void *data, gsize len, char sha256_out[65], GError **error);
/* *out is a new reference. */
int storage_blob_get(MaStorage *st, const char *sha256, GBytes **out, GError **error);
/* Pulls up to cap bytes of a blob's content into buf: how many (0 at the end), or -1 with *error.
 * ctx is the caller's. */
typedef gssize (*MaBlobReader)(void *ctx, guint8 *buf, gsize cap, GError **error);
/* storage_blob_put for content too large to hold whole (a raw message read from its spool file, an
 * attachment decoded as it is read): the caller knows its digest and size from a first pass, and
 * the backend pulls the bytes through read in pieces of at most 1 MB, hashing them as they go, so
 * memory stays bounded whatever the size. Nothing is read when a blob with that digest exists.
 * -1 with MA_ERROR_INVALID when the bytes read are not size long or do not hash to sha256 (the
 * source changed between the passes), or read's error; then nothing of the blob is stored (in a
 * batch transaction, the transaction is spoiled like any failed write). */
int storage_blob_put_stream(MaStorage *st, const char *sha256, gsize size, MaBlobReader read, void *ctx,
                            GError **error);

/* ---- archived messages ---------------------------------------------------------------------- */

typedef struct {
  char *id;
  char *enterprise_id;
  char *thread_id;
  char *message_id;       /* normalised Message-ID header, NULL when none */
  char *dedup_key;        /* hex digest the pipeline computed */
  char *subject;
  MaDirection direction;
  gint64 date;            /* from the Date header, or the arrival time when absent */
  gint64 archived_at;
  gint64 size;            /* raw size in bytes */
  char *raw_sha256;       /* blob of the raw message as received */
  char *text;             /* readable text */
  gint64 text_raw_at;     /* when text_raw_len > 0, text is also the raw blob's bytes [at, at + len)
                           * with CRLF and lone CR made LF (checked by the writer); a backend may
                           * store that reference instead of the text (a hint: 0 on reads) */
  gint64 text_raw_len;
  char *html;             /* HTML as received (UTF-8), NULL when none; sanitise before showing */
  char *snippet;          /* first ~200 characters of text, whitespace folded */
  char *parse_error;      /* NULL, or why the message could not be parsed: it is archived unparsed
                           * (raw kept, no header fields, participants or links) */
  guint machine;          /* MA_MACHINE_* flags: auto-reply, bulk, report (0: a person wrote it) */
  char *machine_reason;   /* the first machine signal found, NULL when machine is 0 */
  GPtrArray *participants;/* MaParticipant* */
  GPtrArray *attachments; /* MaAttachment* (data NULL) */
  GPtrArray *links;       /* MaRecordRef* */
} MaStoredMessage;

MaStoredMessage *ma_stored_message_new(void);
void ma_stored_message_free(MaStoredMessage *m);

/* Finds an archived message of this enterprise with this normalised Message-ID (when not NULL),
 * or else (none found by it) with this dedup key. *id_out is our id. Messages are unique per
 * enterprise by both, so 0 here means storage_message_insert will not conflict. */
int storage_message_find_duplicate(MaStorage *st, const char *enterprise_id, const char *message_id,
                                   const char *dedup_key, char **id_out, GError **error);
/* Inserts the message with its participants and attachment rows (blobs stored separately with
 * storage_blob_put) and its links. m->id, thread_id are set by the caller; a NULL snippet is made
 * from text. MA_ERROR_CONFLICT when the id, Message-ID or dedup key is archived already. */
int storage_message_insert(MaStorage *st, const MaStoredMessage *m, GError **error);
/* A new message as the pipeline archives it: storage_message_insert, storage_search_index and,
 * when p is not NULL, storage_provenance_add (always an added row for a new message), in that
 * order and as one write. Same errors as those three. The row just written needs no look-up of
 * its owner before the search document and the provenance go in. */
int storage_message_archive(MaStorage *st, const MaStoredMessage *m, const MaProvenance *p, GError **error);
/* Full message with participants, attachments and links. */
int storage_message_get(MaStorage *st, const char *enterprise_id, const char *id, MaStoredMessage **out, GError **error);
/* Ids of messages archived at or after `since`, oldest first, after `after_id`. out: char*. */
/* Ids of the enterprise's `limit` most recently archived messages, newest first. out: char*. */
int storage_message_ids_latest(MaStorage *st, const char *enterprise_id, int limit, GPtrArray *out, GError **error);
int storage_message_ids_archived_since(MaStorage *st, const char *enterprise_id, gint64 since,
                                       const char *after_id, int limit, GPtrArray *out, GError **error);
/* 1 when some message of this enterprise has an attachment with this digest; then, when not NULL,
 * *filename and *content_type (caller frees; either may be NULL) are those of its latest such
 * attachment, for the download's Content-Disposition. */
int storage_attachment_visible(MaStorage *st, const char *enterprise_id, const char *sha256, char **filename,
                               char **content_type, GError **error);

/* Links (with ref->reason, may be NULL): 1 added, 0 existed; MA_ERROR_NOT_FOUND when the message
 * is not this enterprise's. */
int storage_link_add(MaStorage *st, const char *enterprise_id, const char *message_id, const MaRecordRef *ref, GError **error);
/* out: MaRecordRef* with their reasons. */
int storage_message_links(MaStorage *st, const char *enterprise_id, const char *message_id, GPtrArray *out, GError **error);

/* Provenance: 1 added, 0 a row with the same spool id (or same route+mailbox+employee when spool id
 * is NULL) exists for this message already. A row added with a mailbox binding counts one archived
 * message on that binding (MaMailbox.archived), in the same transaction: the count is of mail that
 * reached the archive, which the collector itself cannot know (archiving happens later, and mail
 * with no external participant matching a record is never archived). */
int storage_provenance_add(MaStorage *st, const char *enterprise_id, const char *message_id,
                           const MaProvenance *p, GError **error);
/* out: MaProvenance*. */
int storage_provenance_list(MaStorage *st, const char *enterprise_id, const char *message_id, GPtrArray *out, GError **error);

/* ---- the pending store (issue 16: late re-matching) ------------------------------------------ */

/* Mail held because no record matched it, until a record that matches arrives or it expires. */
typedef struct {
  char *id;
  char *enterprise_id;
  char *raw_sha256;       /* blob of the raw message (storage_blob_put first) */
  gint64 received_at;
  gint64 expires_at;      /* purged at or after this time */
  char *reason;           /* why it was not archived ("no_matching_record") */
  char *route;            /* provenance of the copy: route, employee, mailbox (may be NULL) */
  char *employee_id;
  char *mailbox;
  GPtrArray *addresses;   /* char*: its external participants' address keys (lower case) */
} MaPending;

MaPending *ma_pending_new(void);
void ma_pending_free(MaPending *p);

/* Holds a message: 1 held, 0 the enterprise holds the same raw message already. In the caller's
 * transaction when one is open. */
int storage_pending_add(MaStorage *st, const MaPending *p, GError **error);
/* Ids of held messages with a participant whose address (without +tag) is a record's, or whose
 * domain is an account's: the candidates after a records change. At most limit (<= 0: all). */
int storage_pending_candidates(MaStorage *st, const char *enterprise_id, int limit, GPtrArray *out, GError **error);
/* Held messages, newest first (id NULL), or the one with this id. out: MaPending* with addresses. */
int storage_pending_list(MaStorage *st, const char *enterprise_id, const char *id, int limit, GPtrArray *out,
                         GError **error);
/* Forgets a held message and its blob (unless referenced elsewhere). 1 deleted, 0 none. */
int storage_pending_delete(MaStorage *st, const char *enterprise_id, const char *id, GError **error);
/* Deletes every held message (all enterprises) expired at now, with their blobs; *purged counts them. */
int storage_pending_purge(MaStorage *st, gint64 now, gint64 *purged, GError **error);

/* Archived messages of the enterprise with a participant (Reply-To aside) whose address is
 * `address` (lower case; exactly, +tags included) or, when address is NULL, whose domain is
 * `domain`, archived at or after since. Index probes on the participant (migration 129). out: char* ids. */
int storage_messages_by_participant(MaStorage *st, const char *enterprise_id, const char *address, const char *domain,
                                    gint64 since, GPtrArray *out, GError **error);

/* Work done by this handle's statements since the last reset (tests and benchmarks prove a cost
 * bound with it, not with time): *steps, the engine's steps (rows visited, index probes, sorts);
 * *full_scans, steps spent scanning a whole table. reset: start again from 0. 0, or -1 when the
 * backend cannot tell (MA_ERROR_INVALID). */
int storage_work_counters(MaStorage *st, gboolean reset, gint64 *steps, gint64 *full_scans, GError **error);

/* A record deleted in the CRM: its links and timeline rows go (its activities stay). Appends to
 * orphans (char*, may be NULL) the messages left linked to nothing. Returns the number of messages
 * that were linked to it, or -1. */
int storage_record_unlink(MaStorage *st, const char *enterprise_id, const MaRecordRef *record, GPtrArray *orphans,
                          GError **error);
/* Takes an archived message out of the archive (row, participants, attachments, links, activities,
 * timeline rows, and blobs nothing else references), holding it in the pending store as `hold`
 * (may be NULL: not held; hold->raw_sha256 is the message's raw blob, kept) in the same
 * transaction. 1 done, 0 no such message. */
int storage_message_unarchive(MaStorage *st, const char *enterprise_id, const char *message_id, const MaPending *hold,
                              GError **error);

/* Loop protection: messages linked to the record whose From is `from` (any case), archived at or
 * after `since` (and dated no earlier than a day before it). */
int storage_loop_count(MaStorage *st, const char *enterprise_id, const MaRecordRef *record, const char *from,
                       gint64 since, gint64 *count, GError **error);


/* ---- threads -------------------------------------------------------------------------------- */

/* A thread containing any message whose Message-ID is one of ids (n of them). */
int storage_thread_find_by_message_ids(MaStorage *st, const char *enterprise_id, const char *const *ids,
                                       guint n, char **thread_id, GError **error);
/* The most recent thread with this normalised subject and external-participant key whose latest
 * message is at or after `since`. */
int storage_thread_find_by_subject(MaStorage *st, const char *enterprise_id, const char *subject_key,
                                   const char *participants_key, gint64 since, char **thread_id, GError **error);
int storage_thread_create(MaStorage *st, const char *enterprise_id, const char *thread_id, const char *subject_key,
                          const char *participants_key, gint64 latest, GError **error);
/* Raises the thread's latest-message time to `date` if later. */
int storage_thread_touch(MaStorage *st, const char *enterprise_id, const char *thread_id, gint64 date, GError **error);
/* Opportunity links of the thread's messages. out: MaRecordRef*, each with reason = the id of the
 * thread's earliest message linked to that opportunity (match words the reason). */
int storage_thread_opportunity_links(MaStorage *st, const char *enterprise_id, const char *thread_id,
                                     GPtrArray *out, GError **error);
/* Messages of a thread, oldest first. out: MaStoredMessage*. */
int storage_thread_messages(MaStorage *st, const char *enterprise_id, const char *thread_id, GPtrArray *out, GError **error);

/* ---- activities ----------------------------------------------------------------------------- */

typedef struct {
  char *id;
  char *enterprise_id;
  char *message_id;
  MaRecordRef record;
  char *rule_id;
  char *rule_name;
  char *activity_type;
  char *title;
  char *content;
  char *owner;            /* internal participant's address, NULL when none */
  gint64 created_at;
  gint64 message_date;    /* date of the message, so the activity sorts beside it */
} MaActivity;

void ma_activity_free(MaActivity *a);

/* 1 created, 0 an activity for (message, record) exists already (the unique key). The activity
 * takes its message's date (message_date is ignored); MA_ERROR_NOT_FOUND without the message. */
int storage_activity_create(MaStorage *st, const MaActivity *a, GError **error);
/* Links of the message that have no activity yet. out: MaRecordRef*. */
int storage_links_without_activity(MaStorage *st, const char *enterprise_id, const char *message_id,
                                   GPtrArray *out, GError **error);
int storage_activity_get(MaStorage *st, const char *enterprise_id, const char *id, MaActivity **out, GError **error);
/* The activities made from one message, by record type and id. out: MaActivity*. */
int storage_message_activities(MaStorage *st, const char *enterprise_id, const char *message_id, GPtrArray *out,
                               GError **error);

/* ---- timeline ------------------------------------------------------------------------------- */

typedef struct {
  const char *direction;  /* "inbound", "outbound" or NULL for both */
  gint64 since, until;    /* message date bounds, 0 for none; until is exclusive */
  int has_attachment;     /* -1 any, 0 without, 1 with */
  const char *thread_id;  /* NULL for all */
} MaTimelineFilter;

/* One row of a page as storage read it, before its item is decoded (every pointer borrowed from
 * the row, valid during the call it is handed to). The key (enterprise, record, date, message id,
 * kind) and the item's stored bytes are everything a timeline item is made from: two rows with
 * the same key and the same item bytes decode to the same item, except an outbound message's
 * delivery states, which are read apart (MaTimelineItem.delivery) while its item names a delivery
 * key (see storage_timeline_row.h). */
typedef struct {
  const char *enterprise_id;
  MaRecordType record_type;
  const char *record_id;
  gint64 date;
  const char *message_id;  /* the archive's message id */
  int kind;                /* 0 a message, 1 an activity */
  const char *item;        /* item_len bytes, not NUL-terminated; opaque to callers */
  gsize item_len;
} MaTimelineRow;

typedef struct {
  gboolean is_activity;
  MaStoredMessage *message; /* set for messages */
  MaActivity *activity;     /* set for activities */
  GPtrArray *delivery;      /* an outbound message that went through the queue: its recipients'
                             * states (MaOutboundRecipient*, the newest queued message with its
                             * Message-ID); else NULL. Filled by storage_timeline(_each). */
  const MaTimelineRow *row; /* storage_timeline_each: the row the item was decoded from, for a
                             * caller that keeps what it makes of the item (see
                             * storage_timeline_each_known); NULL in storage_timeline's copies */
} MaTimelineItem;

void ma_timeline_item_free(MaTimelineItem *item);

/* Newest first (message date, then message id), messages and activities interleaved (an activity
 * sorts at its message's date, just before it). limit <= 0 means 50; at most 500. cursor: NULL or an opaque string from an earlier page (MA_ERROR_INVALID when it is not
 * one). *next_cursor: NULL on the last page. out: MaTimelineItem*. Messages carry participants,
 * attachments and links; text and html are NULL (fetch the message for them). */
int storage_timeline(MaStorage *st, const char *enterprise_id, MaRecordType type, const char *record_id,
                     const MaTimelineFilter *filter, const char *cursor, int limit, GPtrArray *out,
                     char **next_cursor, GError **error);

/* Called once per item of a page, in page order. The item and everything it points to are
 * storage's, borrowed for the call only: copy what must outlive it; never free or change it. */
typedef void (*MaTimelineVisit)(const MaTimelineItem *item, void *user_data);

/* storage_timeline's page handed to visit item by item instead of copied into a list: the items
 * are views of the database's rows, so a page costs no allocation per item (the API writes each
 * item's JSON as it is visited). Same filter, cursor, limit, *next_cursor and errors. On an error
 * some items may have been visited already; the caller discards what it made of them. */
int storage_timeline_each(MaStorage *st, const char *enterprise_id, MaRecordType type, const char *record_id,
                          const MaTimelineFilter *filter, const char *cursor, int limit, MaTimelineVisit visit,
                          void *user_data, char **next_cursor, GError **error);

/* Called once per row of a page, in page order, before storage decodes it. TRUE: the caller already
 * has what it makes of this row (it keeps it under the row's key and item bytes, so a changed row
 * is a different one) and has used it in its place; storage then neither decodes the row nor looks
 * up anything for it, and does not visit it. FALSE: the row is decoded and visited as usual.
 * It must never answer TRUE for a row whose item names a delivery key (an outbound message the
 * queue holds: its delivery states change without the row changing): what it keeps it must have
 * made from an item visited without one, and the same bytes cannot then name one. */
typedef gboolean (*MaTimelineKnown)(const MaTimelineRow *row, void *user_data);

/* storage_timeline_each, asking known (when not NULL) about each row first: a known row costs
 * storage only its reading, not its decoding nor its delivery look-up (the API's item cache,
 * agent/api/api_item_cache.h, answers it). Every row is offered, those whose item names a delivery
 * key included: known must refuse those (see MaTimelineKnown; the item cache never keeps such an
 * item and compares the item bytes whole, so it cannot answer one), and storage does not look for
 * the key first, which cost a fifth of a known row (scripts/bench/api/pages.sh). Debug builds
 * assert that no such row was answered. known and visit are called with the same user_data, and
 * never both for one row. */
int storage_timeline_each_known(MaStorage *st, const char *enterprise_id, MaRecordType type, const char *record_id,
                                const MaTimelineFilter *filter, const char *cursor, int limit, MaTimelineKnown known,
                                MaTimelineVisit visit, void *user_data, char **next_cursor, GError **error);

/* ---- rules ---------------------------------------------------------------------------------- */

/* The enterprise's ordered rules as one JSON array (text, "[]" when none). The rules module owns the
 * format and validation; storage keeps the array whole so reordering is atomic. */
int storage_rules_get(MaStorage *st, const char *enterprise_id, char **json_array, GError **error);
int storage_rules_put(MaStorage *st, const char *enterprise_id, const char *json_array, GError **error);

/* ---- domains: verification state and DKIM keys (agent/domains) ------------------------------ */

/* One enterprise's claim on a domain: the same rows as MaEnterprise.domains, with the state of
 * their verification. A domain may be claimed by several enterprises while none has verified it;
 * at most one holds it verified (the database enforces it). */
typedef struct {
  char *enterprise_id;
  char *domain;         /* lower-case A-label */
  char *status;         /* "pending", "verified", "failed" */
  char *reason;         /* machine reason of the last failure ("no_record", "wrong_key", ...) or NULL */
  char *detail;         /* one sentence on the last check, or NULL */
  int failures;         /* consecutive definite failures */
  int dns_errors;       /* consecutive temporary DNS failures (backoff) */
  gint64 checked_at;    /* 0: never checked */
  gint64 next_check_at; /* the scheduler's deadline */
  gint64 verified_at;   /* 0: never verified */
  gint64 created_at;
  char *challenge;      /* token of the TXT ownership challenge */
  char *return_path;    /* "bounce" (mailagent's bounce domain) or "from" (SPF of this domain counts) */
} MaDomain;

void ma_domain_free(MaDomain *d);

/* One claim. 1 found, 0 the enterprise has no such domain. */
int storage_domain_get(MaStorage *st, const char *enterprise_id, const char *domain, MaDomain **out,
                       GError **error);
/* The enterprise's domains, by name. out: MaDomain*. */
int storage_domain_list(MaStorage *st, const char *enterprise_id, GPtrArray *out, GError **error);
/* admin (the scheduler): claims whose next_check_at <= now, earliest first, at most limit. */
int storage_domain_due(MaStorage *st, gint64 now, int limit, GPtrArray *out, GError **error);
/* Writes the mutable fields of d (status ... return_path) to its row. When d->status is
 * "verified", other enterprises' unverified claims on the domain are dropped in the same write;
 * MA_ERROR_CONFLICT when another enterprise holds it verified. NOT_FOUND when the row is gone. */
int storage_domain_update(MaStorage *st, const MaDomain *d, GError **error);
/* admin: the enterprise holding domain verified (*enterprise_id, caller frees). 1 / 0 / -1. */
int storage_domain_owner(MaStorage *st, const char *domain, char **enterprise_id, GError **error);

/* The last check's report (JSON text, the doctor's shape) of a claim: put replaces it; get gives
 * 1 with *json (caller frees), 0 when the claim has none (never checked) or does not exist. */
int storage_domain_report_put(MaStorage *st, const char *enterprise_id, const char *domain, const char *json,
                              GError **error);
int storage_domain_report_get(MaStorage *st, const char *enterprise_id, const char *domain, char **json,
                              GError **error);

/* A DKIM key of a domain. A key is "pending" from its creation until its record is found in DNS,
 * then "active" (it signs), then "retired" when a newer key of the same type replaced it. */
typedef struct {
  char *id;
  char *enterprise_id;
  char *domain;          /* A-label */
  char *selector;
  char *algorithm;       /* "rsa-2048", "rsa-1024", "ed25519" */
  char *private_sealed;  /* the PEM sealed with agent/lib/crypto (aad "dkim:<id>") */
  char *public_b64;      /* the p= value */
  char *state;           /* "pending", "active", "retired" */
  char *target;          /* delegated mode: the name the customer's CNAME points to; else NULL */
  gboolean published;    /* the last check found the record matching the key */
  gint64 created_at;
  gint64 activated_at;   /* 0 until active */
  gint64 retired_at;     /* 0 until retired */
} MaDomainKey;

void ma_domain_key_free(MaDomainKey *k);

/* Adds a key to an existing claim. CONFLICT when the selector is taken for that domain, NOT_FOUND
 * when the enterprise has no such domain. */
int storage_domain_key_add(MaStorage *st, const MaDomainKey *k, GError **error);
/* The domain's keys, oldest first. out: MaDomainKey*. */
int storage_domain_key_list(MaStorage *st, const char *enterprise_id, const char *domain, GPtrArray *out,
                            GError **error);
/* Removes a key (by id within its enterprise). 1 removed, 0 not there. */
int storage_domain_key_remove(MaStorage *st, const char *enterprise_id, const char *id, GError **error);
/* Writes state, published, activated_at and retired_at of k (by id within its enterprise). */
int storage_domain_key_update(MaStorage *st, const MaDomainKey *k, GError **error);

/* ---- outbox: events for the CRM's webhook --------------------------------------------------- */

/* An event's life: pending (retried on a schedule), delivered, dead (parked after the last attempt:
 * an operator requeues or purges it), purged (given up; the row stays so that its idempotency key
 * still stops a replayed step from emitting it again). */
typedef enum { MA_OUTBOX_PENDING, MA_OUTBOX_DELIVERED, MA_OUTBOX_DEAD, MA_OUTBOX_PURGED } MaOutboxState;
const char *ma_outbox_state_name(MaOutboxState state);

typedef struct {
  gint64 seq;             /* delivery order */
  char *idempotency_key;  /* unique: adding the same key twice keeps the first */
  char *enterprise_id;
  char *event;            /* "message.archived", "activity.created" */
  char *payload;          /* JSON text */
  int attempts;
  gint64 next_attempt_at;
  char *last_error;
  gint64 created_at;
  gint64 delivered_at;    /* 0: not delivered */
  MaOutboxState state;
} MaOutboxEvent;

void ma_outbox_event_free(MaOutboxEvent *e);
gint64 ma_outbox_event_seq(gconstpointer e); /* for codec_seq_page_trim */

/* 1 added, 0 the key exists. */
int storage_outbox_add(MaStorage *st, const char *enterprise_id, const char *event, const char *idempotency_key,
                       const char *payload, gint64 now, GError **error);
/* Claims up to limit events for one sender, in seq order (out: MaOutboxEvent*): undelivered, not
 * dead, due at now, not held by another sender's live claim, and only the head of each
 * enterprise's queue: an event waits while an earlier pending event of its enterprise is not due
 * or is claimed, so a later event never overtakes a waiting one, on any node. The claimed events
 * are invisible to other claims until lease_until has passed (a sender that died loses them then)
 * or storage_outbox_delivered, _failed or _release ends the claim. lease_until <= now claims
 * nothing for longer than this call (a read of what is due). */
int storage_outbox_claim(MaStorage *st, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error);
/* Gives back a claimed event that was not attempted (its enterprise's queue was blocked behind a
 * failure): another claim may take it at once. Nothing happens to a delivered event. */
int storage_outbox_release(MaStorage *st, gint64 seq, GError **error);
/* Records a delivery and ends the claim. */
int storage_outbox_delivered(MaStorage *st, gint64 seq, gint64 now, GError **error);
/* Records a failed attempt and ends the claim; dead=TRUE parks the event (retry cap reached). */
int storage_outbox_failed(MaStorage *st, gint64 seq, int attempts, gint64 next_attempt_at, const char *error_text,
                          gboolean dead, GError **error);
/* Undelivered, not dead. */
int storage_outbox_backlog(MaStorage *st, gint64 *count, GError **error);
/* Dead events, oldest first, with seq > after_seq (0: from the start), at most limit; enterprise_id
 * NULL: every enterprise's. out: MaOutboxEvent*. */
int storage_outbox_dead_list(MaStorage *st, const char *enterprise_id, gint64 after_seq, int limit, GPtrArray *out,
                             GError **error);
/* One event in any state: 1 with *out (caller frees), 0 when there is none (or it belongs to
 * another enterprise than enterprise_id, when that is not NULL). */
int storage_outbox_get(MaStorage *st, const char *enterprise_id, gint64 seq, MaOutboxEvent **out, GError **error);
/* Requeues dead events (seq > 0: that one; 0: every dead one of enterprise_id, or of all when NULL):
 * attempts start again from 0, due at now. *count gets how many. */
int storage_outbox_dead_retry(MaStorage *st, const char *enterprise_id, gint64 seq, gint64 now, gint64 *count,
                              GError **error);
/* Purges dead events, selected as for retry. *count gets how many. */
int storage_outbox_dead_purge(MaStorage *st, const char *enterprise_id, gint64 seq, gint64 *count, GError **error);
/* Dead events of every enterprise (the /metrics gauge). */
int storage_outbox_dead_count(MaStorage *st, gint64 *count, GError **error);

/* ---- audit log: administrative changes ------------------------------------------------------ */

typedef struct {
  gint64 seq;             /* assigned by storage_audit_add: the order entries were written in */
  char *enterprise_id;    /* the enterprise changed; NULL for installation-wide changes */
  char *actor;            /* "cli:<unix user>" or "apikey:<key id>" */
  char *action;           /* "apikey.create", "rules.update", "settings.update", ... */
  char *target;           /* what was changed: a key id, a rule id, a setting name; may be NULL */
  char *details;          /* JSON object text, never a secret; may be NULL */
  gint64 at;              /* Unix seconds */
} MaAuditEntry;

void ma_audit_entry_free(MaAuditEntry *e);
gint64 ma_audit_entry_seq(gconstpointer e); /* for codec_seq_page_trim */

/* Appends e (at set by the caller; seq is assigned). Joins the caller's open transaction, so a change
 * and its entry commit together. */
int storage_audit_add(MaStorage *st, const MaAuditEntry *e, GError **error);
/* Entries newest first with seq < before_seq (0: from the newest), at most limit. enterprise_id
 * NULL: all; otherwise that enterprise's. out: MaAuditEntry*. */
int storage_audit_list(MaStorage *st, const char *enterprise_id, gint64 before_seq, int limit, GPtrArray *out,
                       GError **error);

/* ---- mailbox bindings (agent/collector) ----------------------------------------------------- */

/* An employee's own mailbox that the collector pulls mail from. The secret (password) is stored
 * sealed by the caller (ma_secret_seal, associated data "mailbox:<id>"); storage never sees it in
 * clear. OAuth2 tokens live in the oauth2 grant of owner "mailbox:<id>". */
typedef struct {
  char *id;
  char *enterprise_id;
  char *employee_id;       /* NULL when the address is no registered employee */
  char *email;             /* lower-cased */
  char *username;          /* login name */
  char *protocol;          /* "imap" | "pop3" */
  char *host;
  int port;
  char *security;          /* "tls" (implicit) | "starttls" */
  char *auth;              /* "password" | "oauth2" */
  char *secret_sealed;     /* sealed password, NULL for oauth2 */
  gboolean allow_untrusted;/* certificate not verified (shown in status) */
  char *preset;            /* preset name, NULL for custom */
  gboolean send_id;        /* IMAP ID before SELECT (NetEase) */
  char *folders;           /* NULL: INBOX and the Sent folder; else names joined by "\n" */
  gboolean archiving;      /* FALSE: bound but not collected */
  char *state;             /* "active" | "paused" | "needs_reauth" | "failing" */
  gint64 created_at;
  gint64 last_sync_at;     /* last complete sync, 0 never */
  gint64 last_error_at;
  char *last_error;        /* NULL when the last attempt succeeded */
  int failures;            /* consecutive failed attempts (backoff) */
  gint64 next_attempt_at;  /* the scheduler's stored deadline */
  gint64 fetched, archived, skipped, quarantined;
  /* sending through the mailbox (issue 13); smtp_host NULL: not used to send */
  char *smtp_host;
  int smtp_port;
  char *smtp_security;     /* "tls" (implicit) | "starttls" */
  gboolean sent_copy;      /* mailagent appends the Sent copy (FALSE: the provider saves it itself) */
  int daily_limit;         /* recipients per day through it; 0: no limit */
} MaMailbox;

void ma_mailbox_free(MaMailbox *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaMailbox, ma_mailbox_free)

/* MA_ERROR_CONFLICT when the enterprise has this address bound on this host and protocol already. */
int storage_mailbox_add(MaStorage *st, const MaMailbox *m, GError **error);
/* By id or address (the first bound when several share the address). enterprise_id NULL: admin
 * look-up by id only (the collector's scheduler). */
int storage_mailbox_get(MaStorage *st, const char *enterprise_id, const char *id_or_email, MaMailbox **out,
                        GError **error);
/* Oldest first. enterprise_id NULL: admin, every enterprise's. out: MaMailbox*. */
int storage_mailbox_list(MaStorage *st, const char *enterprise_id, GPtrArray *out, GError **error);
/* 1 removed (with its checkpoints, seen keys and grant), 0 not found. */
int storage_mailbox_remove(MaStorage *st, const char *enterprise_id, const char *id, GError **error);
/* Sets state ("active" also clears failures and makes the mailbox due now). 1 changed, 0 not found. */
int storage_mailbox_set_state(MaStorage *st, const char *enterprise_id, const char *id, const char *state,
                              gint64 next_attempt_at, GError **error);

/* Replaces the sealed secret (NULL removes it: a binding whose verification failed keeps none). */
int storage_mailbox_set_secret(MaStorage *st, const char *mailbox_id, const char *secret_sealed, GError **error);

/* What one sync attempt did, written in one update with the next deadline. */
typedef struct {
  gboolean ok;
  const char *error_text;  /* when !ok: the step and the server's reply, never a secret */
  const char *new_state;   /* NULL keeps the state (e.g. "needs_reauth", "failing", "active") */
  gint64 fetched, archived, skipped, quarantined; /* added to the counts */
  gint64 now;
  gint64 next_attempt_at;
} MaMailboxSyncReport;

int storage_mailbox_report(MaStorage *st, const char *mailbox_id, const MaMailboxSyncReport *r, GError **error);

/* One fetch per mailbox at a time across processes: takes the lease when it is free or expired
 * (until is when it expires). 1 taken, 0 another owner holds it. Release gives it back early. */
int storage_mailbox_lease(MaStorage *st, const char *mailbox_id, const char *owner, gint64 now, gint64 until,
                          GError **error);
int storage_mailbox_release(MaStorage *st, const char *mailbox_id, const char *owner, GError **error);

/* A folder's checkpoint: the last UID whose message (and every one before it) is durable in a
 * spool. uidvalidity 0 means never synced. */
typedef struct {
  guint32 uidvalidity;
  guint32 last_uid;
  guint64 highest_modseq;
} MaFolderCheckpoint;

/* 1 found, 0 never synced (*out zeroed). */
int storage_mailbox_checkpoint_get(MaStorage *st, const char *mailbox_id, const char *folder, MaFolderCheckpoint *out,
                                   GError **error);
/* Records the keys (IMAP: UIDs as decimal text under uidvalidity; POP3: UIDL values under 0) as
 * collected, and sets the checkpoint, in one transaction. Keys already recorded are kept: the
 * unique key (mailbox, folder, uidvalidity, key) makes a replay after a crash a no-op. Call only
 * after the messages are durable in the spool. cp NULL records keys only (POP3). */
int storage_mailbox_checkpoint_advance(MaStorage *st, const char *mailbox_id, const char *folder,
                                       const MaFolderCheckpoint *cp, guint32 key_uidvalidity,
                                       const char *const *keys, guint n, GError **error);
/* 1 when the key was collected already (under that uidvalidity), 0 not. */
int storage_mailbox_key_seen(MaStorage *st, const char *mailbox_id, const char *folder, guint32 uidvalidity,
                             const char *key, GError **error);
/* Quarantine: a message that failed to be fetched MA_MAILBOX_QUARANTINE_AFTER times is skipped by
 * its sync from then on and listed in the binding's status. Counts one failure of (mailbox, folder,
 * key); returns the failure count so far (>= 1). */
#define MA_MAILBOX_QUARANTINE_AFTER 3
int storage_mailbox_failure_count(MaStorage *st, const char *mailbox_id, const char *folder, const char *key,
                                  const char *error_text, gint64 now, int *count, GError **error);
/* A pulled message that the pipeline could never archive (its spool entry parked dead, the raw
 * message kept there): quarantined at once under (mailbox, folder, key), counted in the binding's
 * quarantined count the first time. error_text says where the raw message is. */
int storage_mailbox_quarantine(MaStorage *st, const char *mailbox_id, const char *folder, const char *key,
                               const char *error_text, gint64 now, GError **error);
/* admin, for /metrics: bindings per state (out: state name -> GINT_TO_POINTER(count), only states
 * that have bindings; caller owns the table) and the quarantined messages of all bindings. */
int storage_mailbox_states(MaStorage *st, GHashTable *out, gint64 *quarantined, GError **error);
/* Listing for status. out: char* "folder key: error". */
int storage_mailbox_quarantine_list(MaStorage *st, const char *mailbox_id, int min_failures, GPtrArray *out,
                                    GError **error);

/* ---- OAuth2 grants (agent/oauth2) ------------------------------------------------------------ */

/* The tokens of one owner ("mailbox:<id>", "relay:<id>"). Tokens are sealed by the caller (associated
 * data "oauth2:<owner>"); storage keeps them opaque. generation counts refreshes: a rotation only
 * applies when the generation is still the one the refresher read. */
typedef struct {
  char *owner;
  char *enterprise_id;
  char *provider;            /* preset or provider name */
  char *access_sealed;       /* NULL when none yet */
  gint64 access_expires_at;
  char *refresh_sealed;      /* NULL when the provider gave none */
  gint64 generation;
  char *state;               /* "valid" | "revoked" */
  gint64 updated_at;
} MaOAuth2Grant;

void ma_oauth2_grant_free(MaOAuth2Grant *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaOAuth2Grant, ma_oauth2_grant_free)

/* Creates or replaces the owner's grant (generation starts at 1). */
int storage_oauth2_grant_put(MaStorage *st, const MaOAuth2Grant *g, GError **error);
int storage_oauth2_grant_get(MaStorage *st, const char *owner, MaOAuth2Grant **out, GError **error);
/* After a refresh: stores the new access token and, when refresh_sealed is not NULL, the rotated
 * refresh token, raising the generation, in one transaction; only when the stored generation is
 * still expect_generation. 1 stored, 0 another refresher won (read the grant again). */
int storage_oauth2_grant_rotate(MaStorage *st, const char *owner, gint64 expect_generation, const char *access_sealed,
                                gint64 access_expires_at, const char *refresh_sealed, gint64 now, GError **error);
/* Marks the grant revoked (refresh answered invalid_grant). */
int storage_oauth2_grant_revoke(MaStorage *st, const char *owner, gint64 now, GError **error);
/* Authorization-code flow state: single use, expires. verifier_sealed: the PKCE verifier, sealed. */
int storage_oauth2_state_add(MaStorage *st, const char *state, const char *owner, const char *enterprise_id,
                             const char *verifier_sealed, gint64 expires_at, GError **error);
/* Consumes the state: 1 with *owner and *verifier_sealed (caller frees), 0 unknown, used or expired. */
int storage_oauth2_state_take(MaStorage *st, const char *state, gint64 now, char **owner, char **verifier_sealed,
                              GError **error);
/* Looks a live (unused, unexpired) state up without consuming it: 1 with *owner and *enterprise_id
 * (caller frees), 0 unknown, used or expired. Not scoped by enterprise: the state, a random secret
 * the provider hands back to the browser, is itself the proof (mailagent's own OAuth2 callback,
 * which no API key reaches, learns from it whose binding the code is for). */
int storage_oauth2_state_find(MaStorage *st, const char *state, gint64 now, char **owner, char **enterprise_id,
                              GError **error);

/* ---- metrics -------------------------------------------------------------------------------- */

/* admin: counts for /metrics: messages archived, activities, records. */
int storage_counts(MaStorage *st, gint64 *messages, gint64 *activities, gint64 *records, GError **error);

/* ---- outbound queue (issue 11; transitions in docs/outbound.md) ------------------------------ */

/* Per-recipient delivery states. queued -> sending -> sent | deferred | bounced | expired;
 * deferred -> sending at its next attempt; queued/deferred -> held -> back (release);
 * suppressed: never attempted. sending is a lease: a recipient still sending after its lease
 * (the process died mid-attempt) is due again, so a crash retries and never loses it. */
typedef enum {
  MA_OUT_QUEUED = 0,
  MA_OUT_SENDING,
  MA_OUT_SENT,
  MA_OUT_DEFERRED,
  MA_OUT_BOUNCED,
  MA_OUT_EXPIRED,
  MA_OUT_HELD,
  MA_OUT_SUPPRESSED,
  MA_OUT__COUNT
} MaOutboundState;

/* "queued", "sending"...; static text. */
const char *ma_outbound_state_name(MaOutboundState st);
/* 0 and *out, or -1 for an unknown name. */
int ma_outbound_state_parse(const char *name, MaOutboundState *out);

typedef struct {
  gint64 id;              /* row id: unique across the queue */
  char *outbound_id;
  char *enterprise_id;
  char *address;          /* envelope recipient as given (domain lower-cased) */
  MaOutboundState state;
  int attempts;           /* attempts started (a claim counts one) */
  gint64 next_attempt_at; /* due time (queued/deferred), lease end (sending) */
  gint64 last_attempt_at; /* 0 before the first */
  gint64 updated_at;
  char *last_reply;       /* the remote reply or our reason, one line; NULL before any */
  char *deferred_reason;  /* the reply a message.deferred event was last emitted for */
  char *route_json;       /* the recipient's own route when it left the message's (fallback), else NULL */
} MaOutboundRecipient;

void ma_outbound_recipient_free(MaOutboundRecipient *r);

typedef struct {
  char *id;
  char *enterprise_id;
  char *type;             /* workflow | mass | individual */
  char *channel;          /* auto | employee_mailbox | enterprise_relay | mailagent_relay */
  char *employee;         /* on whose behalf, NULL when none */
  char *mail_from;        /* envelope sender, "" for <> */
  char *header_from;      /* From: address */
  char *subject;
  char *message_id;       /* the Message-ID header, without <> */
  char *raw_sha256;       /* the message as it leaves (blob) */
  gint64 size;
  gboolean eight_bit;     /* the body holds octets >= 0x80 (needs 8BITMIME) */
  gboolean smtputf8;      /* an address or header needs SMTPUTF8 */
  char *records_json;     /* JSON array of record references to link, NULL when none */
  char *route_json;       /* JSON of the route taken, NULL until routed */
  gint64 created_at;
  char *return_path;      /* "bounce": each recipient's VERP address (agent/bounce/bounce_verp.h) is the
                           * envelope sender; NULL: mail_from as is */
  gboolean list_unsubscribe; /* each recipient's copy carries List-Unsubscribe (+ -Post), signed */
  char *sent_copy_state;  /* read only: its Sent copy's state (pending|appending|done|failed), NULL: none */
  char *sent_copy_detail; /* read only: the folder when done, else the last error */
  GPtrArray *recipients;  /* MaOutboundRecipient* */
} MaOutbound;

MaOutbound *ma_outbound_new(void);
void ma_outbound_free(MaOutbound *m);

/* Queues m (its blob stored beforehand with storage_blob_put) and its recipients as queued, due at
 * now. With idem_key (NULL: none) the request's digest and the response text are kept for 24 h
 * per enterprise: when the key is already there (and younger than 24 h), nothing is queued, 0 is
 * returned and *prior_hash / *prior_response (newly allocated) are the first request's. Returns 1
 * when queued. MA_ERROR_NOT_FOUND without the enterprise. Durable at commit. */
int storage_outbound_enqueue(MaStorage *st, const MaOutbound *m, const char *idem_key, const char *request_hash,
                             const char *response, gint64 now, char **prior_hash, char **prior_response,
                             GError **error);
/* The message with its recipients. enterprise_id NULL: any enterprise (admin). */
int storage_outbound_get(MaStorage *st, const char *enterprise_id, const char *id, MaOutbound **out,
                         GError **error);
/* A page of messages (with recipients), oldest first, after after_id (NULL: from the start); only
 * those with a recipient in state when state >= 0. enterprise_id NULL: all (admin). out: MaOutbound*. */
int storage_outbound_list(MaStorage *st, const char *enterprise_id, int state, const char *after_id, int limit,
                          GPtrArray *out, GError **error);
/* admin: takes up to limit recipients due at now (queued or deferred with next_attempt_at <= now,
 * or sending whose lease ran out), marks them sending with the lease lease_until and one more
 * attempt, and appends them (ordered by message) to out (MaOutboundRecipient*). */
int storage_outbound_claim(MaStorage *st, gint64 now, gint64 lease_until, int limit, GPtrArray *out,
                           GError **error);
/* admin: the outcome of an attempt for recipient row id, applied only while it is still sending
 * (an operator's hold or delete meanwhile wins): state, reply (one line), next_attempt_at (for
 * deferred), deferred_reason (NULL keeps the stored one). 1 applied, 0 not sending any more. */
int storage_outbound_result(MaStorage *st, gint64 id, MaOutboundState state, const char *reply,
                            gint64 next_attempt_at, const char *deferred_reason, gint64 now, GError **error);

typedef enum { MA_OUT_OP_HOLD, MA_OUT_OP_RELEASE, MA_OUT_OP_RETRY, MA_OUT_OP_DELETE } MaOutboundOp;

/* An operator's action on every recipient of message id (enterprise_id NULL: admin): hold
 * (queued/deferred -> held), release (held -> its previous state, due now), retry (deferred/queued
 * due now), delete (the message and its recipients, whatever their state). *changed: recipients
 * (messages for delete) affected. MA_ERROR_NOT_FOUND when there is no such message. */
int storage_outbound_operate(MaStorage *st, const char *enterprise_id, const char *id, MaOutboundOp op, gint64 now,
                             int *changed, GError **error);
/* admin: recipients per state (counts[MA_OUT__COUNT]) and the creation time of the oldest message
 * with a recipient still queued, sending, deferred or held (0 when none). */
int storage_outbound_stats(MaStorage *st, gint64 counts[MA_OUT__COUNT], gint64 *oldest_pending, GError **error);

/* admin: one recipient row by its id (a VERP return path or unsubscribe token names it); 1 with
 * *out (caller frees), 0 when there is no such row (deleted since). enterprise_id NULL: any. */
int storage_outbound_recipient_get(MaStorage *st, const char *enterprise_id, gint64 row_id,
                                   MaOutboundRecipient **out, GError **error);
/* The newest outbound message of the enterprise whose Message-ID (without <>) is message_id: 1
 * with *outbound_id_r (newly allocated), 0 when none. */
int storage_outbound_find_message(MaStorage *st, const char *enterprise_id, const char *message_id,
                                  char **outbound_id_r, GError **error);
/* The recipients of the enterprise's newest queued message whose Message-ID (without <>) is
 * message_id, with their states, replies and times (an archived outbound copy's delivery states):
 * *out a new array of MaOutboundRecipient* (the caller's), or NULL when no queued message has that
 * Message-ID. 0, or -1 with *error. Built on outbound_find_message and outbound_get, so every
 * backend that has the queue has it. */
int storage_outbound_delivery(MaStorage *st, const char *enterprise_id, const char *message_id, GPtrArray **out,
                              GError **error);
/* A bounce for recipient row id (the bounce issue): state MA_OUT_BOUNCED moves it to bounced from
 * queued, sending, deferred, held or sent (a DSN may arrive after the remote's 250); state
 * MA_OUT_DEFERRED (a soft bounce) only records reply on a recipient still queued or deferred.
 * 1 applied, 0 not (already final, or soft on a sent recipient). */
int storage_outbound_bounce(MaStorage *st, gint64 id, MaOutboundState state, const char *reply, gint64 now,
                            GError **error);

/* ---- suppression list (issue 14) -------------------------------------------------------------- */

/* An address an enterprise does not send to any more. */
typedef struct {
  char *enterprise_id;
  char *address;    /* lower-case */
  char *reason;     /* hard_bounce | complaint | unsubscribe | soft_bounces | manual */
  char *detail;     /* the diagnostic or an operator's note, NULL when none */
  char *source;     /* the outbound id that caused it, NULL when none */
  gint64 created_at;
} MaSuppression;

void ma_suppression_free(MaSuppression *s);

/* Adds s (address lower-case). 1 added, 0 the address was there already (the first entry is kept). */
int storage_suppression_add(MaStorage *st, const MaSuppression *s, GError **error);
/* 1 removed, 0 it was not there. Its soft-bounce streak goes too. */
int storage_suppression_remove(MaStorage *st, const char *enterprise_id, const char *address, GError **error);
/* 1 with *out (caller frees) when address (lower-case) is suppressed, 0 when not. */
int storage_suppression_get(MaStorage *st, const char *enterprise_id, const char *address, MaSuppression **out,
                            GError **error);
/* A page of the enterprise's suppressions by address, after after_address (NULL: from the start);
 * out: MaSuppression*. */
int storage_suppression_list(MaStorage *st, const char *enterprise_id, const char *after_address, int limit,
                             GPtrArray *out, GError **error);
/* One more soft bounce for address: the streak starts over when its first bounce is older than
 * now - window. *count_r: the streak's length now. */
int storage_soft_bounce_add(MaStorage *st, const char *enterprise_id, const char *address, gint64 now,
                            gint64 window, gint64 *count_r, GError **error);
/* A delivery succeeded (or the address was suppressed): the streak ends. */
int storage_soft_bounce_reset(MaStorage *st, const char *enterprise_id, const char *address, GError **error);
/* ---- sending through employee mailboxes (issue 13; agent/outbound/outbound_mailbox.c) --------- */

/* Sets a binding's daily limit (0: none). 1 changed, 0 not found. */
int storage_mailbox_set_daily_limit(MaStorage *st, const char *enterprise_id, const char *id, int daily_limit,
                                    GError **error);
/* Reserves up to want recipients of day ("YYYY-MM-DD" in the enterprise's time zone) for the mailbox
 * under limit (0: no limit): *granted = min(want, limit - reserved so far), added to the day's count
 * in one write, so two deliveries never overshoot together. Release gives back what was reserved
 * but not sent. sent_r (may be NULL): the day's count afterwards. */
int storage_mailbox_send_reserve(MaStorage *st, const char *mailbox_id, const char *day, int limit, int want,
                                 int *granted, gint64 *sent_r, GError **error);
int storage_mailbox_send_release(MaStorage *st, const char *mailbox_id, const char *day, int n, GError **error);
/* The day's count (0 when none). */
int storage_mailbox_sent_on(MaStorage *st, const char *mailbox_id, const char *day, gint64 *sent, GError **error);
/* admin: gives recipient row id its own route (route_json; the delivery reads it before the
 * message's), due at next_attempt_at, only while it is still sending. 1 applied, 0 not sending. */
int storage_outbound_recipient_reroute(MaStorage *st, gint64 id, const char *route_json, gint64 next_attempt_at,
                                       gint64 now, GError **error);

/* The Sent copy of a message sent through an employee's mailbox: one row per message, a recorded
 * step of the queue entry. pending -> appending (a lease, like a recipient's sending) -> done |
 * pending (retried) | failed (after the last attempt). */
typedef struct {
  char *outbound_id;
  char *enterprise_id;
  char *mailbox_id;
  char *state;            /* "pending" | "appending" | "done" | "failed" */
  int attempts;
  gint64 next_attempt_at;
  char *folder;           /* the folder it went to, when done */
  char *last_error;
  gint64 updated_at;
} MaSentCopy;

void ma_sent_copy_free(MaSentCopy *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaSentCopy, ma_sent_copy_free)

/* Records that message outbound_id needs its Sent copy in mailbox_id, due at now; a second call for
 * the same message changes nothing. Joins the caller's transaction. */
int storage_sent_copy_add(MaStorage *st, const char *outbound_id, const char *enterprise_id, const char *mailbox_id,
                          gint64 now, GError **error);
/* admin: takes up to limit due copies (pending, or appending whose lease ran out), marks them
 * appending until lease_until with one more attempt. out: MaSentCopy*. */
int storage_sent_copy_claim(MaStorage *st, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error);
/* admin: the outcome of an append, applied only while appending: state "done" (folder), "pending"
 * (retried at next_attempt_at) or "failed". 1 applied, 0 not appending any more. */
int storage_sent_copy_result(MaStorage *st, const char *outbound_id, const char *state, const char *folder,
                             const char *error_text, gint64 next_attempt_at, gint64 now, GError **error);
/* The message's copy (enterprise_id NULL: admin). 1 found, 0 none. */
int storage_sent_copy_get(MaStorage *st, const char *enterprise_id, const char *outbound_id, MaSentCopy **out,
                          GError **error);

/* ---- submission credentials (SMTP AUTH on the submission listener) --------------------------- */

typedef struct {
  char *id;
  char *enterprise_id;
  char *username;         /* unique across enterprises */
  char *label;
  gint64 created_at;
  gint64 revoked_at;      /* 0 while valid */
} MaSubmissionCredential;

void ma_submission_credential_free(MaSubmissionCredential *c);

/* Stores a credential by the hex SHA-256 of its (random, high-entropy) secret. MA_ERROR_CONFLICT
 * when the username exists. */
int storage_submission_add(MaStorage *st, const MaSubmissionCredential *c, const char *secret_hash, GError **error);
/* An unrevoked credential by username, with its stored hash (*secret_hash newly allocated). */
int storage_submission_find(MaStorage *st, const char *username, MaSubmissionCredential **out, char **secret_hash,
                            GError **error);
/* out: MaSubmissionCredential*, oldest first, revoked ones included. */
int storage_submission_list(MaStorage *st, const char *enterprise_id, GPtrArray *out, GError **error);
/* 1 revoked now, 0 no such (unrevoked) credential of this enterprise (by id or username). */
int storage_submission_revoke(MaStorage *st, const char *enterprise_id, const char *id_or_username, gint64 now,
                              GError **error);

/* ---- enterprise relays (agent/relay; issue 13) ----------------------------------------------- */

/* One domain filter of a relay: evaluated in ascending priority, ties by creation (seq). */
typedef struct {
  gint64 seq;               /* creation order, set by storage */
  int priority;             /* 1 first */
  char *sender_domain;      /* the From domain, exact, lower case */
  char *recipient_patterns; /* space-separated "example.com *.example.com", NULL: any recipient */
} MaRelayFilter;

void ma_relay_filter_free(MaRelayFilter *f);

/* An enterprise's own SMTP relay. The password arrives sealed (agent/lib/crypto, associated data
 * "relay:<id>") and stays opaque here. status: "untested" | "ok" | "suspended". */
typedef struct {
  char *id;
  char *enterprise_id;
  char *name;
  char *host;               /* a host name, a mail domain or an IP address */
  int port;
  char *security;           /* "starttls" | "implicit" */
  char *tls_mode;           /* the engine's five (smtp_tls_mode_parse) */
  gboolean auth_enabled;    /* off keeps the saved credentials unused */
  char *auth_mechanism;     /* PLAIN | LOGIN | XOAUTH2, NULL when never set */
  char *username;
  char *password_sealed;
  char *auth_provider;      /* XOAUTH2: the OAuth2 provider (a preset name), NULL otherwise */
  char *grant_state;        /* read only (writes ignore it): the state of the OAuth2 grant of owner
                               "relay:<id>", "valid" or "revoked", NULL when there is none */
  gint64 daily_limit;       /* recipients per day in the enterprise's time zone; 0: none */
  char *email_types;        /* space-separated: workflow mass individual */
  gboolean dkim;
  gboolean enabled;
  char *status;
  gint64 status_since;
  char *status_reason;
  gint64 suspended_until;   /* with status suspended: usable again from then */
  char *return_path;        /* NULL: the message's own envelope sender */
  gint64 created_at;
  gint64 updated_at;
  GPtrArray *filters;       /* MaRelayFilter*, in evaluation order */
} MaRelay;

MaRelay *ma_relay_new(void);
void ma_relay_free(MaRelay *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaRelay, ma_relay_free)

/* Adds r (id, enterprise_id, name... set by the caller) with its filters. MA_ERROR_CONFLICT when
 * the enterprise has a relay of that name, NOT_FOUND without the enterprise. */
int storage_relay_add(MaStorage *st, const MaRelay *r, GError **error);
/* Replaces every field of relay r->id of r->enterprise_id and its filters (filters keep no seq:
 * they are created again in the array's order). 1 updated, 0 no such relay. */
int storage_relay_update(MaStorage *st, const MaRelay *r, GError **error);
/* By id or name, with filters. 1 found, 0 not. */
int storage_relay_get(MaStorage *st, const char *enterprise_id, const char *id_or_name, MaRelay **out,
                      GError **error);
/* Every relay of the enterprise (MaRelay*, with filters), oldest first. */
int storage_relay_list(MaStorage *st, const char *enterprise_id, GPtrArray *out, GError **error);
/* 1 deleted (with its filters, counters and OAuth2 grant), 0 no such relay. */
int storage_relay_delete(MaStorage *st, const char *enterprise_id, const char *id, GError **error);
/* Sets the relay's status ("untested" | "ok" | "suspended") since `since` with reason (may be
 * NULL) and, for suspended, until when. 1 set, 0 no such relay. */
int storage_relay_set_status(MaStorage *st, const char *enterprise_id, const char *id, const char *status,
                             gint64 since, const char *reason, gint64 suspended_until, GError **error);
/* The relay's counters of day ("2026-12-02", the enterprise's calendar day): recipients delivered
 * through it and reserved by connections under way (storage_relay_reserve), failed sessions
 * counted and when the last one was counted (zeros when none). */
int storage_relay_usage(MaStorage *st, const char *enterprise_id, const char *relay_id, const char *day,
                        gint64 *sent, int *failures, gint64 *last_failure_at, GError **error);
/* Adds delta (may be negative, never below 0) to the relay's count of day (a reservation given
 * back: -1 for a reserved recipient that was not delivered). */
int storage_relay_count_sent(MaStorage *st, const char *enterprise_id, const char *relay_id, const char *day,
                             gint64 delta, GError **error);
/* Reserves up to want recipients against the relay's daily limit on day (limit 0: no limit), in one
 * write: *granted = min(want, limit - count), and the count grows by it (a connection's recipients
 * counted before it starts, so many in flight never overshoot; those not delivered are given back
 * with storage_relay_count_sent). 0 or -1. */
int storage_relay_reserve(MaStorage *st, const char *enterprise_id, const char *relay_id, const char *day,
                          gint64 limit, int want, int *granted, GError **error);
/* Counts a failed session at now unless the last one counted on day was less than min_gap seconds
 * earlier (one outage is one failure). 1 counted, 0 too close; *failures: the day's count. */
int storage_relay_count_failure(MaStorage *st, const char *enterprise_id, const char *relay_id, const char *day,
                                gint64 now, gint64 min_gap, int *failures, GError **error);
/* A queued message's route (JSON, agent/relay) after a fallback decided it again. 1 set, 0 gone. */
int storage_outbound_set_route(MaStorage *st, const char *enterprise_id, const char *id, const char *route_json,
                               GError **error);

/* ---- the shared relay's reputation (agent/relay; issue 13) ------------------------------------ */

/* Records that recipient address of outbound_id was routed to mailagent's own delivery path at at
 * (inside the transaction that queues it), for the enterprise's quotas and bounce rate. */
int storage_default_path_record(MaStorage *st, const char *enterprise_id, const char *outbound_id,
                                const char *address, gint64 at, GError **error);
/* Recipients the enterprise routed to the default path since `since` (inclusive). */
int storage_default_path_count(MaStorage *st, const char *enterprise_id, gint64 since, gint64 *count,
                               GError **error);
/* Of the enterprise's last `last` default-path recipients since its last suspension was lifted:
 * how many there are (*total), how many the queue marks bounced (*bounced: a 5xx or a DSN after
 * the 250) and how many complained (*complained: storage_default_path_complaint). */
int storage_default_path_rates(MaStorage *st, const char *enterprise_id, int last, gint64 *total, gint64 *bounced,
                               gint64 *complained, GError **error);
/* Records that recipient address of outbound_id complained (an ARF report came back for it) at at;
 * only a recipient recorded by storage_default_path_record counts in the rates. 1 recorded, 0 it
 * had complained before (a second report about the same recipient counts once). */
int storage_default_path_complaint(MaStorage *st, const char *enterprise_id, const char *outbound_id,
                                   const char *address, gint64 at, GError **error);
/* Suspends the enterprise's use of the default path (reason kept): 1 newly suspended, 0 already. */
int storage_default_path_suspend(MaStorage *st, const char *enterprise_id, gint64 at, const char *reason,
                                 GError **error);
/* 1 with *since and *reason (newly allocated) while suspended, 0 when not. */
int storage_default_path_suspension(MaStorage *st, const char *enterprise_id, gint64 *since, char **reason,
                                    GError **error);
/* Lifts the suspension (an operator's decision); the bounce rate then counts only recipients
 * recorded afterwards. 1 lifted, 0 there was none. */
int storage_default_path_resume(MaStorage *st, const char *enterprise_id, gint64 now, GError **error);

/* ---- channel system accounts (agent/relay; issue 13) ----------------------------------------- */

/* The address workflow mail is sent from on one channel of the enterprise ("employee_mailbox",
 * "enterprise_relay", "mailagent_relay"), checked by the caller before it is stored. */
int storage_channel_account_set(MaStorage *st, const char *enterprise_id, const char *channel, const char *address,
                                gint64 verified_at, GError **error);
/* 1 with *address (newly allocated) and *verified_at, 0 when the channel has none. */
int storage_channel_account_get(MaStorage *st, const char *enterprise_id, const char *channel, char **address,
                                gint64 *verified_at, GError **error);
/* An employee's default sending mailbox (the employee_mailbox channel), chosen by the caller among
 * the employee's bound mailboxes. */
int storage_employee_send_mailbox_set(MaStorage *st, const char *enterprise_id, const char *employee_id,
                                      const char *mailbox_id, GError **error);
/* 1 with *mailbox_id (newly allocated), 0 when none was chosen. */
int storage_employee_send_mailbox_get(MaStorage *st, const char *enterprise_id, const char *employee_id,
                                      char **mailbox_id, GError **error);
/* 1 removed, 0 there was none. */
int storage_channel_account_clear(MaStorage *st, const char *enterprise_id, const char *channel, GError **error);

#endif
