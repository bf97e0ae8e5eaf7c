/* config.h - the process configuration: one INI file read with GKeyFile.
 *
 * Every key has a default, so an absent file or section is fine; an unknown section or key, or a
 * value of the wrong type, is an error naming the file, line, section and key, so a typo never
 * passes silently. A '#' after white space in a value starts a comment. Every key is documented
 * in mailagent.conf.example. Per-enterprise settings live in the database, not here.
 */
#ifndef MA_CONFIG_H
#define MA_CONFIG_H

#include <glib.h>

typedef struct {
  /* [storage] */
  char *data_dir;               /* default "./data" */
  int busy_timeout;             /* ms a database call waits for a lock, 10000 */
  char *storage_backend;        /* "sqlite" (default) or "postgresql" */
  char *storage_postgresql;     /* libpq conninfo without a password, NULL: unset */
  gint64 archive_reserve;       /* bytes of free disk below which the pipeline pauses, 16777216 */
  /* [smtp] */
  char *smtp_listen;            /* "127.0.0.1:2525" */
  char *inbound_domain;         /* "inbound.localhost" */
  char *forwarder_policy;       /* "employee" | "domain" | "any" | "strict" */
  char *hostname;               /* name in the greeting and EHLO reply; default g_get_host_name() */
  char *tls_cert_file;          /* default <data_dir>/tls/cert.pem */
  char *tls_key_file;           /* default <data_dir>/tls/key.pem */
  gint64 max_message_size;      /* bytes, 52428800 */
  int max_recipients;           /* 100 */
  int max_sessions;             /* 1000 */
  int max_sessions_per_client;  /* 50 */
  int command_timeout;          /* seconds, 300 */
  int data_timeout;             /* seconds, 600 */
  int min_data_rate;            /* bytes/second over the last data_rate_window seconds of DATA, 1024 */
  int data_rate_window;         /* seconds, 10 (1..60) */
  int error_budget;             /* bad commands before disconnect, 10 */
  int junk_command_limit;       /* NOOP/VRFY/RSET/HELP/ETRN without an accepted message, 100; 0: off */
  gint64 disk_reserve;          /* bytes of free disk below which MAIL gets 452, 104857600 */
  int grace_period;             /* seconds SIGTERM waits for sessions, 30 */
  int greet_delay_ms;           /* pause before the greeting; talkers are dropped (554), 0 */
  /* [submission] */
  char *submission_listen;      /* "127.0.0.1:5870" */
  char *submission_tls_listen;  /* implicit TLS (port 465 style), NULL: none */
  int submission_loopback_auth; /* 1: AUTH without TLS from loopback clients, 0 */
  /* [api] */
  char *api_listen;             /* "127.0.0.1:8025" */
  gint64 api_max_body;          /* bytes, 10485760 */
  int api_max_connections;      /* concurrent API connections, 256; more get 503 and a close */
  int api_read_workers;         /* threads computing timeline pages and searches off the loop, 2; 0: on it */
  char *api_tls_cert_file;      /* NULL: plain HTTP */
  char *api_tls_key_file;
  char *api_public_url;         /* how browsers and mail readers reach the API ("https://mail.example.com"):
                                 * OAuth2 callback, List-Unsubscribe one-click links; NULL: unset */
  /* [relay] */
  char *relay_default_host;     /* NULL: direct MX delivery */
  int relay_mx_port;            /* port of MX hosts, 25 (tests move it) */
  char *relay_tls_mode;         /* default path's TLS mode, "preferred" */
  char *relay_auth_mechanism;   /* "none" | "plain" | "login" (default host only) */
  char *relay_username;         /* NULL */
  char *relay_password_file;    /* NULL */
  /* [tls] */
  char *tls_ca_file;            /* NULL: the system CA store */
  /* [queue] */
  gint64 queue_max_age;         /* seconds before a deferred recipient expires, 432000 (5 days) */
  int queue_retry_initial;      /* seconds before the first retry, 300 */
  int queue_retry_max;          /* longest retry interval, 3600 */
  int queue_destination_concurrency; /* connections per destination, 10 */
  int queue_max_connections;    /* outgoing connections in all, 100 */
  int queue_connect_timeout;    /* seconds, 30 */
  int queue_command_timeout;    /* seconds, 300 */
  int queue_lease;              /* seconds a claim holds a recipient (a dead node's come back after it), 3600 */
  char *relay_spf_include;      /* domain customers include in SPF (include:), NULL: none */
  char *relay_source_addresses; /* addresses/networks mail leaves from, comma-separated, NULL: none */
  char *relay_bounce_domain;    /* VERP return-path domain (mailagent's own), NULL: none */
  char *relay_dkim_cname_domain;/* delegated DKIM: customers CNAME selectors under it, NULL: off */
  char *relay_allowed_ports;    /* ports enterprise relays may use, "25,465,587,10025,11025" */
  char *relay_default_path_scope; /* "verified" (only domains in the verified scope may use the
                                     default path) | "any" (every domain of the enterprise) */
  /* [dns] */
  char *dns_servers;            /* NULL: system resolvers; "127.0.0.1:5353" in tests */
  int dns_timeout_ms;           /* first try's time-out per server, 2000 */
  int dns_tries;                /* rounds over the servers, 2 */
  int dns_cache_entries;        /* answers cached per resolver, 10000 */
  /* [collector] */
  int collector_interval;       /* seconds between mailbox polls, 60 */
  int collector_threads;        /* collector worker threads (bounded pool), 4 */
  int collector_timeout;        /* seconds per network read/write of a mailbox session, 60 */
  int collector_initial_days;   /* the first sync of a folder covers this many days, 90 */
  gint64 collector_batch_bytes; /* bytes fetched per FETCH before one spool fsync + checkpoint, 4194304 */
  char *collector_ca_file;      /* trust anchors for IMAP/POP3 servers; NULL: the system's */
  char *collector_presets_file; /* extra provider presets (extends share/presets.ini); NULL: none */
  int collector_max_backoff;    /* seconds, cap of the per-mailbox backoff after errors, 3600 */
  int collector_max_idle;       /* IMAP IDLE connections held at once (one per mailbox's INBOX), 100 */
  int collector_lease;          /* seconds a sync holds its mailbox unrenewed; 0: 3 x timeout, at least 60 */
  /* [webhook] */
  char *webhook_url;            /* NULL: events stay in the outbox */
  char *webhook_secret_file;    /* NULL: unsigned (refused unless url is NULL) */
  int webhook_timeout;          /* seconds per attempt, 10 */
  int webhook_max_attempts;     /* 20 */
  int webhook_max_backoff;      /* seconds, 3600 */
  /* [security] */
  char *master_key_file;        /* default <data_dir>/master.key */
  /* [pipeline] */
  int workers;                  /* pipeline threads, default 2 */
  int retry_max_backoff;        /* seconds, cap of the spool's retry backoff, 300 */
  int pipeline_nice;            /* the worker threads' nice above serve's own (0-19), 10: SMTP acceptance first */
  int pipeline_defer_max;       /* seconds the workers may wait out an SMTP burst (0: never), 5 */
  int pipeline_defer_backlog;   /* messages spooled in a burst after which they stop waiting, 10000 */
  char *deprecated_log_level;   /* [pipeline] log_level, read into log_level when [log] level is unset */
  /* [log] */
  char *log_level;              /* "debug" | "info" (default) | "warn" | "error" */
  char *log_target;             /* "auto" (default: the journal when stderr is it) | "stderr" | "journal" | "syslog" */
  /* [process] */
  char *process_user;           /* NULL: stay who started us (see privilege.h) */
} MaConfig;

/* Loads FILE (NULL: defaults only). Returns a new config the caller frees with ma_config_free, or
 * NULL with *error set (MA_ERROR_INVALID naming the key, or a GKeyFile/GFile error). */
MaConfig *ma_config_load(const char *file, GError **error);
void ma_config_free(MaConfig *cfg);
/* A deep copy (every field of MaConfig is a key of the file, so the key table copies it whole);
 * for a thread that keeps its own. Caller frees with ma_config_free. */
MaConfig *ma_config_copy(const MaConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaConfig, ma_config_free)

/* Splits "host:port" / "[v6]:port". Returns 0, or -1 with *error set. host is newly allocated. */
int ma_config_split_listen(const char *listen, char **host, int *port, GError **error);

#endif
