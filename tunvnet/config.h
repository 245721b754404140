/* tunvnetd's configuration: an INI file read with libinih.
 *
 *   [node]
 *   name = n1                          ; required, [A-Za-z0-9._-], at most 31 bytes
 *   listen = 198.18.0.1:7000           ; required: underlay address (port default 7000)
 *   state_dir = /var/lib/tunvnet       ; default /var/lib/tunvnet
 *   control_socket = /run/tunvnet/tunvnetd.sock   ; default as shown
 *   mtu = 1500                         ; TUN MTU, 1280..65535, default 1500
 *   forward_grace = 5000               ; ms a moved VIP's stragglers are sent on (0..600000)
 *   peer_timeout = 6                   ; s: a peer heard nothing from this long loses its
 *                                      ; link and is declared dead: its routes turn
 *                                      ; unreachable (2..3600)
 *   offload = on                       ; on: 64 KiB super-packets on the TUN (virtio-net
 *                                      ; header, TSO/USO); off: plain packets only
 *   metrics_listen = 198.18.0.1:9100   ; optional: serve GET /metrics (Prometheus) here
 *
 *   [pool]
 *   ipv4 = 198.19.1.0/24               ; at least one of ipv4 / ipv6
 *   ipv6 = fd00:19:1::/64
 *
 *   [peers]
 *   seed = 198.18.0.2:7000             ; repeatable; none for the first node
 *
 *   [security]                         ; node identity: TLS 1.3, tunnel/tls.h
 *   ca = /etc/tunvnet/ca.crt           ; required: the cluster CA (scripts/vnet-ca)
 *   cert = /etc/tunvnet/n1.crt         ; required: this node's certificate, naming it
 *   key = /etc/tunvnet/n1.key          ; required: its key, not open to group or others
 *   crl = /etc/tunvnet/crl.pem         ; optional revocation list, re-read on SIGHUP
 *   data_protection = sealed           ; sealed (default): data links encrypted and
 *                                      ; authenticated; none: plain (trusted fabric;
 *                                      ; the control link stays TLS). Same on every node.
 *   rekey_interval = 600               ; seconds between data-key rotations, 1..86400
 *
 *   [limits]                           ; optional: bounds on what others can make us hold
 *   metrics_connections = 64           ; metrics connections at once (1..4096)
 *   metrics_per_address = 8            ; of them from one client address (1..4096)
 *   metrics_timeout = 10               ; s an idle metrics connection is kept (1..3600)
 *   routes = 1048576                   ; route entries held, tombstones included
 *   routes_per_peer = 65536            ; live routes one peer may have us hold
 *   peers = 1024                       ; peers known (proven, configured or hinted)
 *   peer_forget = 600                  ; s a peer unreachable (never up, or down) is
 *                                      ; kept before it is forgotten; seeds stay
 *   pending_handshakes = 64            ; connections not authenticated yet, in all
 *   pending_per_address = 8            ; ... from one address
 *   control_clients = 64               ; control socket clients at once
 *   control_idle_timeout = 60          ; s an idle control client is kept
 *   event_followers = 16               ; `vnetctl events -f` at once
 *   captures = 16                      ; captures running at once
 *   hold_packets = 8192                ; packets held for one suspended/standby job
 *   hold_bytes = 33554432              ; ... and their bytes
 *
 *   [substrate]                        ; how data reaches other nodes (design.md: Substrates)
 *   policy = tcp                       ; auto | tcp | udp | verbs, default tcp; auto: the
 *                                      ; chooser (tunvnet/chooser.h) picks per peer
 *   peer = n2:auto                     ; repeatable: NODE:POLICY, this peer's own policy
 *   udp_mtu = 0                        ; underlay path MTU for UDP datagrams, 0 (default):
 *                                      ; the route's (IP_MTU), lowered on EMSGSIZE
 *   udp_loss_max = 2                   ; auto: UDP losing more than this % of its
 *                                      ; probes is not chosen (0..100)
 *
 *   [store]                            ; optional: where routes live (tunvnet/store.h)
 *   route_store = mesh                 ; mesh (default): peers tell each other; etcd
 *   etcd_endpoints = http://198.18.0.201:2379, http://198.18.0.202:2379
 *                                      ; required with etcd: up to 8, tried in turn
 *   etcd_prefix = /tunvnet             ; the keys' prefix (one per cluster)
 *   lease_ttl = 10                     ; s this node's lease outlives its last keepalive
 *                                      ; (2..3600): its VIPs are unreachable after it
 *   etcd_ca = ca.pem                   ; optional TLS to etcd (https endpoints): the CA,
 *   etcd_cert = client.pem             ; and a client certificate and key where etcd
 *   etcd_key = client.key              ; asks for them (--client-cert-auth)
 *
 * `key: value` is accepted too; ';' or '#' start a comment line, " ;" an inline one.
 * Relative credential paths are relative to the config file's directory; the private
 * key must not be accessible by group or others, the certificate must verify against
 * the CA (and CRL), be valid now and name this node. state_dir and control_socket are
 * absolute.
 *
 * config_load() reports every error as "FILE:LINE: reason" (for a missing required
 * key, LINE is the file's last line) and returns how many there were. */
#ifndef TUNVNET_CONFIG_H
#define TUNVNET_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "tunvnet/msg.h"
#include "tunvnet/vip.h"

#define CONFIG_DEFAULT_PORT   7000
#define CONFIG_DEFAULT_SOCKET "/run/tunvnet/tunvnetd.sock"
#define CONFIG_DEFAULT_STATE  "/var/lib/tunvnet"
#define CONFIG_MAX_SEEDS      64
#define CONFIG_DEFAULT_FORWARD_GRACE_MS 5000
#define CONFIG_DEFAULT_REKEY_S 600
#define CONFIG_DEFAULT_PEER_TIMEOUT_S 6
#define CONFIG_DEFAULT_METRICS_CONNS    64
#define CONFIG_DEFAULT_METRICS_PER_ADDR 8
#define CONFIG_DEFAULT_METRICS_TIMEOUT  10
#define CONFIG_MAX_POLICIES   64
#define CONFIG_UDP_MTU_MIN    576
#define CONFIG_DEFAULT_UDP_LOSS_MAX 2

/* [limits]: every bound on what a peer, a client or a scraper can make the daemon hold.
 * When one is reached, the excess is refused or the oldest idle holder evicted, and
 * counted. */
struct config_limits {
	int metrics_conns;     /* metrics connections at once */
	int metrics_per_addr;  /* of them from one client address */
	int metrics_timeout_s; /* an idle metrics connection is closed after this */
	int routes;            /* route entries held (tombstones included) */
	int routes_per_peer;   /* live route entries naming one peer */
	int peers;             /* peers known */
	int peer_forget_s;     /* an unreachable learned peer is forgotten after this */
	int pending;           /* connections not yet authenticated */
	int pending_per_addr;  /* of them from one remote address */
	int control_clients;   /* control socket clients */
	int control_idle_s;    /* an idle control client is closed after this */
	int followers;         /* events -f followers */
	int captures;          /* capture sessions */
	int hold_packets;      /* packets held for one job */
	int hold_bytes;        /* bytes held for one job */
};

/* Fills l with every [limits] default. */
void config_limits_default(struct config_limits *l);

#define CONFIG_MAX_ETCD       8
#define CONFIG_ETCD_URL_MAX   128
#define CONFIG_DEFAULT_LEASE_TTL 10
#define CONFIG_DEFAULT_LINK_IDLE 60 /* [store] link_idle, seconds */

/* [store] */
struct config_store {
	bool etcd;               /* route_store = etcd (else mesh) */
	char endpoints[CONFIG_MAX_ETCD][CONFIG_ETCD_URL_MAX];
	int nendpoints;
	char prefix[64];
	int lease_ttl_s;
	char ca_file[PATH_MAX], cert_file[PATH_MAX], key_file[PATH_MAX]; /* "" when none */
	/* links = on_demand (the default with etcd): a peer link only to a node this one
	 * sends to or hears from, closed after link_idle_s without traffic (0: never);
	 * links = full: a link to every node (the mesh needs it) */
	bool on_demand;
	int link_idle_s;
};

struct config {
	char node[NODE_NAME_MAX + 1];
	struct sockaddr_storage listen;
	struct sockaddr_storage seeds[CONFIG_MAX_SEEDS];
	int nseeds;
	bool has_pool4, has_pool6;
	struct vip_prefix pool4, pool6;
	char ca_file[PATH_MAX], cert_file[PATH_MAX], key_file[PATH_MAX];
	char crl_file[PATH_MAX]; /* "" when none */
	bool sealed;          /* data_protection = sealed */
	int rekey_s;          /* data keys rotate this often */
	char state_dir[PATH_MAX];
	char ctl_socket[PATH_MAX];
	int mtu;
	int forward_grace_ms; /* after a VIP moved away, stragglers are sent on this long */
	int peer_timeout_s;   /* a peer silent this long is dead (peer.c, liveness.c) */
	bool offload;         /* TUN with IFF_VNET_HDR and offloads (tunvnet/vnet.h) */
	bool has_metrics;
	struct sockaddr_storage metrics_listen; /* tunvnet/metrics.c */
	struct config_limits limits;
	char substrate[8];    /* [substrate] policy: "auto", "tcp", "udp", "verbs" */
	struct {
		char peer[NODE_NAME_MAX + 1];
		char policy[8];
	} policies[CONFIG_MAX_POLICIES]; /* [substrate] peer = NODE:POLICY */
	int npolicies;
	int udp_mtu;          /* 0: discovered */
	int udp_loss_max;     /* percent */
	struct config_store store;
};

/* Reads and checks path. Every error is printed to errs as "path:LINE: reason".
 * Returns the number of errors (0: cfg is complete and valid), or -errno when the file
 * cannot be opened (also printed). */
int config_load(const char *path, struct config *cfg, FILE *errs);
/* The same from an open stream f; path names it in messages and is where a relative
 * key_file is found. */
int config_read(FILE *f, const char *path, struct config *cfg, FILE *errs);

/* Writes cfg in the normalised form above (golden-file tests, `tunvnetd -n -v`). */
void config_print(const struct config *cfg, FILE *out);

#endif
