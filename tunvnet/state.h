/* Restart survival: the daemon keeps what it must not forget in STATE_DIR/state.json
 * (format: statefile.h) and takes it up again when it starts.
 *
 * Kept: every job (namespace, its identity, state, VIPs), this node's own route
 * entries with their epochs (tombstones too) and the peers that were up (name, address). The file is rewritten, whole and
 * atomically (temporary file, fsync, rename, fsync of the directory), at the end of any
 * loop turn in which a job or one of this node's routes changed (the event bus says so:
 * one write however many changes the turn made). A failed write is retried a second
 * later, logged.
 *
 * At start (state_restore, before the control socket and the peers), each job is taken
 * up again: its namespace must still be the one it was (same nsfs identity) and hold its
 * TUN; the daemon attaches a new queue to the persistent multi-queue TUN, whose
 * addresses and routes never left, and restores the job's state. Its VIPs' routes go
 * back into the table with the epochs they had, and reach the peers in the full table
 * each peer gets when it comes up: neither lost to a stale epoch nor gone backwards. A
 * job that does not match the system any more is dropped with its reason logged, and
 * its routes are withdrawn (at their epoch). A file that cannot be parsed, or is another
 * node's, is set aside (renamed state.json.bad-TIME) and named in the log; the daemon
 * starts without jobs then. A client waiting on a move when the daemon died has lost its
 * answer; the job keeps the state it had (suspended, standby), for the tool to resume. */
#ifndef TUNVNET_STATE_H
#define TUNVNET_STATE_H

#define STATE_FILE "state.json"

struct daemon;

/* Makes d->state and starts tracking changes; a no-op (0, d->state NULL) when
 * cfg.state_dir is "" (daemons inside unit tests). 0 or -errno. */
int  state_init(struct daemon *d);
/* Reads the state file and takes its jobs and routes up again (above). Every problem is
 * logged and reconciled; returns 0, or -errno only when the daemon cannot go on (out of
 * memory). */
int  state_restore(struct daemon *d);
/* Dials the peers of the last run (the file's), once the peer layer runs: a node with
 * no seed of its own finds its peers again at once. */
void state_dial_peers(struct daemon *d);
/* Writes the file now if anything changed since it was last written. */
void state_flush(struct daemon *d);
/* Flushes and stops tracking: what happens after (jobs closed at shutdown) is not a
 * change to remember. */
void state_stop(struct daemon *d);
void state_fini(struct daemon *d);

#endif
