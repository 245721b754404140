/* The chooser: which substrate carries a peer's DATA. Pure logic over measurements the
 * peer layer feeds it (probes sent and answered, trains, link up, down and errors), with
 * times passed in, so the unit tests drive it without a network.
 *
 * Measurements, per substrate with a data link up:
 *   probes   a small PING every CHOOSER_PROBE_MS on every data link, answered by a
 *            PONG: the round-trip time (smoothed), and loss over the last
 *            CHOOSER_WINDOW probes (a probe not answered within CHOOSER_LOST_MS is lost)
 *   train    every CHOOSER_TRAIN_MS, CHOOSER_TRAIN_LEN probes of CHOOSER_TRAIN_BYTES
 *            back to back; the time from sending the first to the answer of the last,
 *            less the smallest round-trip time seen, is how long the path took to carry
 *            the train's bytes: bytes / that time is the throughput estimate (a
 *            throttled path holds the train back at its rate; arrival spreads would not
 *            do, since UDP GSO/GRO and TCP batch the train into one piece). The best of
 *            the last CHOOSER_TRAINS estimates counts (a busy host only ever delays a
 *            train), and estimates above CHOOSER_RATE_CAP count as that: the method
 *            cannot tell faster paths apart.
 *   health   the last time anything arrived on the link; an error (ICMP unreachable, a
 *            QP in error) or the link going down.
 *
 * The rule (chooser_pick), for policy auto:
 *   1. A substrate is usable when its link is up, something arrived on it within
 *      CHOOSER_FAIL_MS while probes were going out (else it failed: "no traffic
 *      acknowledged"), at least one probe was answered, and, for a datagram substrate,
 *      its loss is at most loss_max percent ("udp: blocked, 0 of 10 probes answered"
 *      when none came back). A substrate that failed is usable again only after
 *      CHOOSER_RECOVER_MS healthy (hysteresis: it does not flap back and forth).
 *   2. verbs when usable.
 *   3. else the faster of udp and tcp: udp unless tcp's throughput estimate is more than
 *      CHOOSER_FASTER_PCT percent higher (a tie goes to udp: the job's TCP then does not
 *      run inside the tunnel's TCP).
 *   4. else tcp's data link if it is up at all; else none (the control link).
 *   A healthy substrate in use is left for a better one only CHOOSER_HOLD_MS after the
 *   last switch; one that fails is left at once (failover: within CHOOSER_FAIL_MS plus
 *   a probe interval, under a second).
 * A pinned policy (tcp, udp, verbs) takes that substrate whenever its link is up, else
 * falls back as in 4. */
#ifndef TUNVNET_CHOOSER_H
#define TUNVNET_CHOOSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/substrate.h"

#define CHOOSER_PROBE_MS     50
#define CHOOSER_LOST_MS      500
#define CHOOSER_WINDOW       200   /* probes the loss is measured over (10 s) */
#define CHOOSER_FAIL_MS      450
#define CHOOSER_RECOVER_MS   2000
#define CHOOSER_HOLD_MS      5000
#define CHOOSER_TRAIN_MS     1000
#define CHOOSER_TRAIN_LEN    16
#define CHOOSER_TRAIN_BYTES  1200
#define CHOOSER_RATE_CAP     500e6 /* bit/s: the trains' resolution on a busy host */
#define CHOOSER_TRAINS       5     /* the estimate is the best of the last ones */
#define CHOOSER_FASTER_PCT   25
#define CHOOSER_WHY_MAX      96

struct chooser_sub {
	bool up;                 /* a data link is up on it */
	bool datagram;           /* loss counts against it */
	uint64_t up_ms;          /* when it came up */
	uint64_t last_rx_ms;     /* anything received on its link */
	uint64_t healthy_ms;     /* since when it is healthy (0: not) */
	uint64_t error_ms;       /* the last error reported */
	/* probes: a ring of the last CHOOSER_WINDOW */
	uint32_t next_seq;
	uint64_t sent_ms[CHOOSER_WINDOW];
	bool answered[CHOOSER_WINDOW];
	uint32_t nsent;          /* probes sent since up (up to the window) */
	double rtt_us;           /* smoothed; < 0: none yet */
	double rtt_min_us;       /* the smallest seen; < 0: none yet */
	double rate_bps;         /* the best of the last trains' estimates; < 0: none yet */
	double rates[CHOOSER_TRAINS]; /* the last trains' (a busy host only delays one) */
	uint32_t ntrains;
	uint64_t failures;       /* times it failed while up */
};

struct chooser {
	struct chooser_sub s[SUBSTRATE_MAX];
	int active;              /* what chooser_pick returned last; -1 none */
	uint64_t switched_ms;
	int loss_max;            /* percent */
};

void chooser_init(struct chooser *c, int loss_max_pct);
/* A data link on substrate id came up or went down; datagram: it may lose frames. */
void chooser_link(struct chooser *c, int id, bool up, bool datagram, uint64_t now);
/* An error on id's link that says it cannot carry traffic now (ICMP, QP error). */
void chooser_error(struct chooser *c, int id, uint64_t now);
/* Anything arrived on id's link. */
void chooser_rx(struct chooser *c, int id, uint64_t now);
/* A probe goes out on id: its sequence number. */
uint32_t chooser_probe_sent(struct chooser *c, int id, uint64_t now);
/* The PONG of probe seq came back, rtt_us after it left. */
void chooser_probe_answered(struct chooser *c, int id, uint32_t seq, uint64_t now,
			    uint64_t rtt_us);
/* A train of bytes was answered elapsed_us after its first probe left. */
void chooser_train(struct chooser *c, int id, uint32_t bytes, uint64_t elapsed_us);

/* Loss in percent over the probes resolved (answered, or older than CHOOSER_LOST_MS),
 * and how many there were. -1 when none is resolved yet. */
int chooser_loss(const struct chooser *c, int id, uint64_t now, int *resolved,
		 int *answered);
/* Whether id is usable now (rule 1); why says why not when false. */
bool chooser_usable(const struct chooser *c, int id, uint64_t now, char *why, size_t cap);
/* The substrate to use under policy (-1 auto, or a substrate id), -1 for none. Updates
 * c->active and c->switched_ms. */
int chooser_pick(struct chooser *c, int policy, uint64_t now);
/* Why id is or is not the one in use, for `vnetctl peers`. */
void chooser_explain(const struct chooser *c, int id, int policy, uint64_t now, char *why,
		     size_t cap);

#endif
