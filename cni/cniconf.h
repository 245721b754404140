/* tunvnet-cni's side of the CNI protocol (spec 1.0.0, and 0.3.x / 0.4.0 results for older
 * runtimes): the network configuration read from stdin and the CNI_* environment, checked
 * whole before anything is done, and the JSON it answers with (a result, a version or an
 * error object). Nothing here touches the system: cni/tunvnet-cni.c does, and the unit
 * tests drive this file directly.
 *
 * The network configuration (a plugin configuration object of the spec):
 *   {
 *     "cniVersion": "1.0.0", "name": "tunvnet", "type": "tunvnet-cni",
 *     "socket": "/run/tunvnet/tunvnetd.sock",      optional, the daemon's control socket
 *     "dataDir": "/var/lib/cni/tunvnet",            optional, where attachments are kept
 *     "ipam": {"type": "static",                    optional: without it, one VIP from
 *              "addresses": [{"address": "198.19.1.20/32"}]}   the node's pool
 *           | {"type": "tunvnet", "families": [4, 6]}          one VIP from each pool
 *     "dns": {...}                                  optional, copied into the result
 *   }
 * plus what the runtime adds: "args", "runtimeConfig" ("ips": static VIPs, the spec's
 * "ips" capability), "prevResult". VIPs may also come from CNI_ARGS "IP=a,b". */
#ifndef CNI_CNICONF_H
#define CNI_CNICONF_H

#include <limits.h>
#include <stdbool.h>
#include <sys/un.h>

#include <jansson.h>

#include "tunvnet/vip.h"

#define CNICONF_VERSION       "1.0.0"           /* the spec version we speak */
#define CNICONF_TUN_IFNAME    "tv0"             /* tunvnetd's device (tunvnet/tun.h) */
#define CNICONF_DEFAULT_SOCKET "/run/tunvnet/tunvnetd.sock"
#define CNICONF_DEFAULT_DATADIR "/var/lib/cni/tunvnet"
#define CNICONF_MAX_VIPS      8

/* The spec's well-known error codes (SPEC.md, "Error"), and ours from 100 up. */
enum cni_code {
	CNI_OK = 0,
	CNI_ERR_VERSION = 1,        /* incompatible CNI version */
	CNI_ERR_FIELD = 2,          /* unsupported field: the message names key and value */
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_ENV = 4,            /* invalid environment variables: named */
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_CONFIG = 7,         /* invalid network configuration */
	CNI_ERR_TRY_AGAIN = 11,     /* the daemon did not answer in time */
	CNI_ERR_DAEMON = 100,       /* tunvnetd refused: its error name is in details */
	CNI_ERR_NOT_ATTACHED = 101, /* CHECK: a VIP or the interface is not there */
	CNI_ERR_INTERFACE = 102,    /* the interface name cannot be used in the namespace */
};

enum cni_cmd { CNI_CMD_ADD, CNI_CMD_DEL, CNI_CMD_CHECK, CNI_CMD_VERSION };

/* The parameters of one invocation: environment and configuration together. */
struct cniconf {
	enum cni_cmd cmd;
	char version[16];               /* cniVersion as given */
	char name[128];                 /* the network's name */
	char container[256];            /* CNI_CONTAINERID */
	char netns[PATH_MAX];           /* CNI_NETNS, absolute; "" when not given (DEL) */
	char ifname[16];                /* CNI_IFNAME */
	char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char data_dir[PATH_MAX];
	struct vip vips[CNICONF_MAX_VIPS]; /* static VIPs, in order; none: from the pool */
	int nvips;
	int families[2];                /* pool VIPs: 4 and/or 6; none: the daemon chooses */
	int nfamilies;
	json_t *dns;                    /* the config's "dns" (a reference), or NULL */
	json_t *prev;                   /* "prevResult" (a reference), or NULL */
};

/* Fills c from the environment (getenv) and the configuration text on stdin (conf,
 * len bytes). Returns CNI_OK, or a code with a message in msg (msgsize bytes): what is
 * wrong and where. VERSION needs only CNI_COMMAND. Release c with cniconf_free. */
enum cni_code cniconf_parse(struct cniconf *c, char *(*getenv_fn)(const char *),
			    const char *conf, size_t len, char *msg, size_t msgsize);
void cniconf_free(struct cniconf *c);

/* The addresses of a result's "ips" (prevResult): up to max, as VIPs. Returns how many
 * (0 for none or no result). */
int cniconf_result_vips(const json_t *result, struct vip *out, int max);

/* The ADD result for the VIPs attached: interfaces (ifname in the container's netns),
 * ips (each VIP as /32 or /128 on that interface), routes (the default route of each
 * family, through it) and dns. Follows the format of c->version. */
json_t *cniconf_result(const struct cniconf *c, const struct vip *vips, int nvips);
/* {"cniVersion", "supportedVersions"} */
json_t *cniconf_version_result(const char *version);
/* The spec's error object. version: "" when unknown (then ours is used). */
json_t *cniconf_error(const char *version, enum cni_code code, const char *msg,
		      const char *details);
/* A short text for code ("Invalid network config") */
const char *cniconf_code_name(enum cni_code code);

#endif
