/* Prometheus text exposition of the stats result (see prom.h).
 *
 * The format wants all samples of a metric family together, after its HELP and TYPE
 * lines, each family once, so samples are collected per family first and the families
 * printed at the end.
 *
 * A family holds either one series per row (job, peer, substrate: sum() of them is the
 * total) or the node's one series, never both: sum() would count twice. A node counter
 * named like a row's member (the counter "peer_tx_packets" and each peer's "tx_packets"
 * would both be tunvnet_peer_tx_packets_total) is therefore exposed under "node_":
 * tunvnet_node_peer_tx_packets_total, which equals sum(tunvnet_peer_tx_packets_total). */
#include "tunvnet/prom.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "tunvnet_"

struct family {
	char *name;
	char *help;
	const char *type;  /* "counter" or "gauge" */
	char *samples;     /* the sample lines, each ending in '\n' */
	size_t size;
	FILE *f;           /* writes to samples */
};

/* Each family on its own: its memstream keeps the addresses of samples and size, so a
 * family must never move (an array of them would, when it grows). */
struct fams {
	struct family **v;
	size_t n, cap;
	bool nomem;
};

/* What the daemon's counters count (stats.h); others get a generic line. */
static const struct {
	const char *name, *help;
} helps[] = {
	{ "tun_rx_packets", "Packets read from the jobs' TUN devices (sent by the jobs)." },
	{ "tun_rx_bytes", "Bytes read from the jobs' TUN devices." },
	{ "tun_tx_packets", "Packets written into the jobs' TUN devices (received by the jobs)." },
	{ "tun_tx_bytes", "Bytes written into the jobs' TUN devices." },
	{ "peer_tx_packets", "Data frames queued to peers, all peers together: "
	  "sum(tunvnet_peer_tx_packets_total)." },
	{ "peer_tx_bytes", "Bytes of the inner IP packets of data frames queued to peers, all "
	  "peers together." },
	{ "peer_rx_packets", "Data frames received from peers, all peers together: "
	  "sum(tunvnet_peer_rx_packets_total)." },
	{ "peer_rx_bytes", "Bytes of the inner IP packets of data frames received from peers, "
	  "all peers together." },
	{ "local_switched", "Packets switched between jobs of this node." },
	{ "icmp_unreach_sent", "ICMP and ICMPv6 unreachable errors sent to jobs." },
	{ "handshake_refused", "Peers that failed the cluster-key proof." },
	{ "protocol_errors", "Peer links closed because of a bad frame." },
	{ "link_ups", "Peer links that came up." },
	{ "link_downs", "Peer links that went down." },
	{ "held_packets", "Packets held for suspended or standby jobs." },
	{ "forwarded", "Packets sent on by a forwarding pointer or a hand-over." },
};

/* The nested groups: stats member, metric infix and label name, what a row is. */
static const struct {
	const char *key, *kind, *what;
} groups[] = {
	{ "jobs", "job", "job" },
	{ "peers", "peer", "peer" },
	{ "substrates", "substrate", "substrate" },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* PREFIX + infix + "_" + name (+ "_total"), every other character than [a-zA-Z0-9_]
 * made '_'. NULL on ENOMEM. */
static char *metric_name(const char *infix, const char *name, bool counter)
{
	size_t n, i, start = strlen(PREFIX);
	bool total;
	char *s;

	n = strlen(name);
	total = counter && !(n >= 6 && strcmp(name + n - 6, "_total") == 0);
	if (asprintf(&s, PREFIX "%s%s%s%s", infix ? infix : "", infix ? "_" : "", name,
		     total ? "_total" : "") < 0)
		return NULL;
	for (i = start; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			s[i] = '_';
	return s;
}

/* A label value as the format quotes it: backslash, double quote and newline escaped. */
static void put_label(FILE *f, const char *name, const char *value, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (; *value; value++) {
		if (*value == '\\')
			fputs("\\\\", f);
		else if (*value == '"')
			fputs("\\\"", f);
		else if (*value == '\n')
			fputs("\\n", f);
		else
			fputc(*value, f);
	}
	fputc('"', f);
}

static void put_value(FILE *f, const json_t *v)
{
	double d;

	if (json_is_integer(v)) {
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_boolean(v)) {
		fputc(json_is_true(v) ? '1' : '0', f);
	} else {
		d = json_real_value(v);
		if (isnan(d))
			fputs("NaN", f);
		else if (isinf(d))
			fputs(d > 0 ? "+Inf" : "-Inf", f);
		else
			fprintf(f, "%.17g", d);
	}
}

/* The family called name, made (with help and type) if it is new; NULL on ENOMEM. The
 * name is taken over. */
static struct family *family(struct fams *fs, char *name, const char *help, const char *type)
{
	struct family **bigger, *fam;
	size_t i;

	if (!name) {
		fs->nomem = true;
		return NULL;
	}
	for (i = 0; i < fs->n; i++)
		if (strcmp(fs->v[i]->name, name) == 0) {
			free(name);
			return fs->v[i];
		}
	if (fs->n == fs->cap) {
		bigger = realloc(fs->v, (fs->cap ? fs->cap * 2 : 32) * sizeof(*bigger));
		if (!bigger)
			goto nomem;
		fs->v = bigger;
		fs->cap = fs->cap ? fs->cap * 2 : 32;
	}
	fam = calloc(1, sizeof(*fam));
	if (!fam)
		goto nomem;
	fam->name = name;
	fam->type = type;
	fam->help = strdup(help);
	fam->f = open_memstream(&fam->samples, &fam->size);
	if (!fam->help || !fam->f) {
		free(fam->help);
		if (fam->f)
			fclose(fam->f);
		free(fam->samples);
		free(fam);
		goto nomem;
	}
	fs->v[fs->n++] = fam;
	return fam;
nomem:
	free(name);
	fs->nomem = true;
	return NULL;
}

/* One sample: name{node="..."[,label="value"[,label2="value2"]]} value */
static void sample2(struct family *fam, const char *node, const char *label, const char *value,
		    const char *label2, const char *value2, const json_t *v)
{
	bool first = true;

	fputs(fam->name, fam->f);
	if (node || label) {
		fputc('{', fam->f);
		if (node) {
			put_label(fam->f, "node", node, true);
			first = false;
		}
		if (label)
			put_label(fam->f, label, value, first);
		if (label2)
			put_label(fam->f, label2, value2, false);
		fputc('}', fam->f);
	}
	fputc(' ', fam->f);
	put_value(fam->f, v);
	fputc('\n', fam->f);
}

static void sample(struct family *fam, const char *node, const char *label, const char *value,
		   const json_t *v)
{
	sample2(fam, node, label, value, NULL, NULL, v);
}

static const char *counter_help(const char *name, char *buf, size_t size)
{
	size_t i;

	for (i = 0; i < N(helps); i++)
		if (strcmp(helps[i].name, name) == 0)
			return helps[i].help;
	snprintf(buf, size, "tunvnet counter %s.", name);
	return buf;
}

/* Members of jobs, peers and substrates that say how things are now, not how often
 * something happened: a link's state, the peers up, the packets held right now. */
static bool is_gauge(const char *name, const json_t *v)
{
	static const char *const suffixes[] = { "_ms", "_s", "_seconds" };
	static const char *const names[] = { "up", "peers_up", "held_packets", "queued" };
	size_t n = strlen(name), k, i;

	if (json_is_real(v) || json_is_boolean(v))
		return true;
	for (i = 0; i < N(names); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	for (i = 0; i < N(suffixes); i++) {
		k = strlen(suffixes[i]);
		if (n >= k && strcmp(name + n - k, suffixes[i]) == 0)
			return true;
	}
	return false;
}

static bool is_value(const json_t *v)
{
	return json_is_number(v) || json_is_boolean(v);
}

/* Whether the node counter key is named like a group's member ("peer_tx_packets"). */
static bool in_group_namespace(const char *key)
{
	for (size_t i = 0; i < N(groups); i++) {
		size_t n = strlen(groups[i].kind);

		if (strncmp(key, groups[i].kind, n) == 0 && key[n] == '_' &&
		    strncmp(key + n + 1, "layer_", 6) != 0)
			return true;
	}
	return false;
}

static void counters(struct fams *fs, const json_t *group, const char *node)
{
	char buf[256];
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)group, key, v) {
		struct family *fam;

		if (!is_value(v))
			continue;
		fam = family(fs, metric_name(in_group_namespace(key) ? "node" : NULL, key, true),
			     counter_help(key, buf, sizeof(buf)), "counter");
		if (fam)
			sample(fam, node, NULL, NULL, v);
	}
}

/* The peer layer's counters (peer_counters_json): "pending" and "known" are gauges. */
static void peer_layer(struct fams *fs, const json_t *group, const char *node)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)group, key, v) {
		bool gauge = strcmp(key, "pending") == 0 || strcmp(key, "known") == 0;
		struct family *fam;
		char help[128];

		if (!is_value(v))
			continue;
		snprintf(help, sizeof(help), gauge ? "Peer layer: %s now." :
			 "Peer layer: %s (handshakes and links refused, frames that failed to open).",
			 key);
		fam = family(fs, metric_name("peer_layer", key, !gauge), help,
			     gauge ? "gauge" : "counter");
		if (fam)
			sample(fam, node, NULL, NULL, v);
	}
}

static void drops(struct fams *fs, const json_t *group, const char *node)
{
	struct family *fam;
	const char *key;
	json_t *v;

	fam = family(fs, strdup(PREFIX "drops_total"), "Packets dropped, by reason.", "counter");
	if (!fam)
		return;
	json_object_foreach((json_t *)group, key, v)
		if (is_value(v))
			sample(fam, node, "reason", key, v);
}

/* What the [limits] bounds refused or evicted, by limit. */
static void limits(struct fams *fs, const json_t *group, const char *node)
{
	struct family *fam;
	const char *key;
	json_t *v;

	fam = family(fs, strdup(PREFIX "limit_total"),
		     "Refused or evicted because a [limits] bound was reached, by limit.",
		     "counter");
	if (!fam)
		return;
	json_object_foreach((json_t *)group, key, v)
		if (is_value(v))
			sample(fam, node, "limit", key, v);
}

/* A member of a row that is itself an object of counters ("drops": {reason: n}): one
 * counter family, a series per row and sub-member ("reason" for drops, else "key"). */
static void nested_group(struct fams *fs, const json_t *o, const char *node, size_t g,
			 const char *row, const char *key)
{
	struct family *fam = NULL;
	const char *sub;
	char help[320];
	json_t *v;

	json_object_foreach((json_t *)o, sub, v) {
		if (!is_value(v))
			continue;
		if (!fam) {
			snprintf(help, sizeof(help), "Per-%s %s%s.", groups[g].what,
				 strcmp(key, "drops") ? "counters " : "packets dropped, by reason",
				 strcmp(key, "drops") ? key : "");
			fam = family(fs, metric_name(groups[g].kind, key, true), help, "counter");
			if (!fam)
				return;
		}
		sample2(fam, node, groups[g].kind, row, strcmp(key, "drops") ? "key" : "reason",
			sub, v);
	}
}

/* rows: {row name: {member: value}}; each member one family, each row one series. */
static void nested(struct fams *fs, const json_t *rows, const char *node, size_t g)
{
	const char *row, *key;
	struct family *fam;
	char help[320];
	json_t *o, *v;
	bool gauge;

	json_object_foreach((json_t *)rows, row, o) {
		if (!json_is_object(o))
			continue;
		json_object_foreach(o, key, v) {
			if (json_is_object(v))
				nested_group(fs, v, node, g, row, key);
			if (!is_value(v))
				continue;
			gauge = is_gauge(key, v);
			snprintf(help, sizeof(help), "Per-%s %s %s.", groups[g].what,
				 gauge ? "value" : "counter", key);
			fam = family(fs, metric_name(groups[g].kind, key, !gauge), help,
				     gauge ? "gauge" : "counter");
			if (fam)
				sample(fam, node, groups[g].kind, row, v);
		}
	}
}

static void put_help(FILE *f, const char *help)
{
	for (; *help; help++) {
		if (*help == '\\')
			fputs("\\\\", f);
		else if (*help == '\n')
			fputs("\\n", f);
		else
			fputc(*help, f);
	}
}

char *prom_format(const json_t *stats)
{
	const json_t *c, *d, *node, *rows;
	struct fams fs = { 0 };
	char *text = NULL;
	size_t size, i;
	FILE *out;

	c = json_object_get(stats, "counters");
	d = json_object_get(stats, "drops");
	node = json_object_get(stats, "node");
	if (!json_is_object(stats) || !json_is_object(c) || (d && !json_is_object(d)) ||
	    (node && !json_is_string(node))) {
		errno = EINVAL;
		return NULL;
	}
	counters(&fs, c, json_string_value(node));
	if (d)
		drops(&fs, d, json_string_value(node));
	if (json_is_object(json_object_get(stats, "limits")))
		limits(&fs, json_object_get(stats, "limits"), json_string_value(node));
	if (json_is_object(json_object_get(stats, "peer_layer")))
		peer_layer(&fs, json_object_get(stats, "peer_layer"), json_string_value(node));
	for (i = 0; i < N(groups); i++) {
		rows = json_object_get(stats, groups[i].key);
		if (json_is_object(rows))
			nested(&fs, rows, json_string_value(node), i);
	}

	out = open_memstream(&text, &size);
	for (i = 0; i < fs.n; i++) {
		struct family *fam = fs.v[i];

		if (fclose(fam->f) != 0)
			fs.nomem = true;
		if (out && !fs.nomem) {
			fprintf(out, "# HELP %s ", fam->name);
			put_help(out, fam->help);
			fprintf(out, "\n# TYPE %s %s\n%s", fam->name, fam->type,
				fam->samples ? fam->samples : "");
		}
		free(fam->name);
		free(fam->help);
		free(fam->samples);
		free(fam);
	}
	free(fs.v);
	if (!out || fclose(out) != 0 || fs.nomem) {
		if (out)
			free(text);
		errno = ENOMEM;
		return NULL;
	}
	return text;
}
