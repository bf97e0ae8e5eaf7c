/* node.h - who this process is in a cluster of `serve` nodes on one database: the owner name its
 * leases carry (a mailbox's fetch, a scheduled job's leadership). Unique per process, not per host:
 * nodes in containers can share a host name and a pid (1), and a lease whose owner matches is
 * taken as the caller's own.
 */
#ifndef MA_NODE_H
#define MA_NODE_H

/* A scheduled job's leader renews its lease at every round (each second or so) for this long of
 * ma_now(): another node takes the job over this long after the leader stopped renewing it. */
#define MA_JOB_LEASE_SECONDS 30

/* "host:pid:random", made at the first call and the same for the life of the process (static,
 * never freed). Thread-safe. */
const char *ma_node_id(void);

#endif
