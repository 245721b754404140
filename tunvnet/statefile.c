/* The state file's format (statefile.h): JSON in, checked structs out, and back. */
#include "tunvnet/statefile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tunvnet/addr.h"
#include "tunvnet/route.h"

#define EPOCH_MAX ((uint64_t)INT64_MAX) /* as routing.h's ROUTING_EPOCH_MAX */

static const char *const state_names[] = {
	[JOB_ACTIVE] = "active",
	[JOB_SUSPENDED] = "suspended",
	[JOB_STANDBY] = "standby",
};

static int fail(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (why && whylen)
		vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A node name as config.c accepts it: 1..NODE_NAME_MAX of [A-Za-z0-9._-]. */
static bool node_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= NODE_NAME_MAX &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int get_vip(json_t *v, struct vip *out)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) != json_string_length(v)) /* no NUL inside */
		return -EINVAL;
	return vip_parse(s, out);
}

static int parse_job(json_t *o, size_t i, struct statefile_job *j, char *why, size_t wl)
{
	json_t *netns, *nsid, *state, *ho, *vips, *v;
	const char *s;
	size_t k;

	memset(j, 0, sizeof(*j));
	if (!json_is_object(o))
		return fail(why, wl, "jobs[%zu] is not an object", i);
	netns = json_object_get(o, "netns");
	s = json_string_value(netns);
	if (!s || !*s || strlen(s) != json_string_length(netns) || strlen(s) >= sizeof(j->netns))
		return fail(why, wl, "jobs[%zu].netns is not a namespace name or path", i);
	snprintf(j->netns, sizeof(j->netns), "%s", s);
	nsid = json_object_get(o, "nsid");
	if (!json_is_array(nsid) || json_array_size(nsid) != 2 ||
	    !json_is_integer(json_array_get(nsid, 0)) || !json_is_integer(json_array_get(nsid, 1)) ||
	    json_integer_value(json_array_get(nsid, 0)) < 0 ||
	    json_integer_value(json_array_get(nsid, 1)) <= 0)
		return fail(why, wl, "jobs[%zu].nsid is not [dev, inode]", i);
	j->ns_dev = (uint64_t)json_integer_value(json_array_get(nsid, 0));
	j->ns_ino = (uint64_t)json_integer_value(json_array_get(nsid, 1));
	state = json_object_get(o, "state");
	s = json_string_value(state);
	for (k = 0; s && k < sizeof(state_names) / sizeof(state_names[0]); k++)
		if (strcmp(s, state_names[k]) == 0)
			break;
	if (!s || k == sizeof(state_names) / sizeof(state_names[0]))
		return fail(why, wl, "jobs[%zu].state is not active, suspended or standby", i);
	j->state = (enum job_state)k;
	ho = json_object_get(o, "handing_over");
	if (ho && !json_is_boolean(ho))
		return fail(why, wl, "jobs[%zu].handing_over is not a boolean", i);
	j->handing_over = json_is_true(ho);
	vips = json_object_get(o, "vips");
	if (!json_is_array(vips) || json_array_size(vips) == 0 ||
	    json_array_size(vips) > JOB_MAX_VIPS)
		return fail(why, wl, "jobs[%zu].vips is not a list of 1 to %d VIPs", i,
			    JOB_MAX_VIPS);
	json_array_foreach(vips, k, v) {
		if (get_vip(v, &j->vips[k]) < 0)
			return fail(why, wl, "jobs[%zu].vips[%zu] is not an IP address", i, k);
		for (size_t m = 0; m < k; m++)
			if (vip_equal(&j->vips[m], &j->vips[k]))
				return fail(why, wl, "jobs[%zu].vips[%zu] repeats a VIP", i, k);
	}
	j->nvips = (int)json_array_size(vips);
	return 0;
}

static int parse_route(json_t *o, size_t i, struct statefile_route *r, char *why, size_t wl)
{
	json_t *ep, *wd;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o) || get_vip(json_object_get(o, "vip"), &r->vip) < 0)
		return fail(why, wl, "routes[%zu] has no valid vip", i);
	ep = json_object_get(o, "epoch");
	if (!json_is_integer(ep) || json_integer_value(ep) < 1)
		return fail(why, wl, "routes[%zu].epoch is not an integer in 1..2^63-1", i);
	r->epoch = (uint64_t)json_integer_value(ep);
	if (r->epoch > EPOCH_MAX)
		return fail(why, wl, "routes[%zu].epoch is too large", i);
	wd = json_object_get(o, "withdrawn");
	if (wd && !json_is_boolean(wd))
		return fail(why, wl, "routes[%zu].withdrawn is not a boolean", i);
	r->withdrawn = json_is_true(wd);
	return 0;
}

static int parse_peer(json_t *o, size_t i, struct statefile_peer *p, char *why, size_t wl)
{
	const char *name, *addr;

	memset(p, 0, sizeof(*p));
	name = json_string_value(json_object_get(o, "name"));
	addr = json_string_value(json_object_get(o, "addr"));
	if (!json_is_object(o) || !name || !node_name_ok(name))
		return fail(why, wl, "peers[%zu].name is not a node name", i);
	snprintf(p->name, sizeof(p->name), "%s", name);
	if (!addr || strlen(addr) != json_string_length(json_object_get(o, "addr")) ||
	    addr_parse(addr, 0, &p->addr) < 0 || addr_port(&p->addr) == 0)
		return fail(why, wl, "peers[%zu].addr is not an address:port", i);
	return 0;
}

/* A VIP in two jobs, or two routes for one VIP: the file cannot say which one holds.
 * Found with a route table as a set (linear, whatever the file's size). */
static int check_unique(const struct statefile *sf, char *why, size_t wl)
{
	struct route_table *seen[2] = { NULL, NULL };
	struct route_entry e = { .epoch = 1 };
	char vb[VIP_STRLEN];
	int err = -ENOMEM;

	if (route_table_new(&seen[0]) < 0 || route_table_new(&seen[1]) < 0)
		goto out;
	for (size_t a = 0; a < sf->nroutes; a++) {
		e.vip = sf->routes[a].vip;
		if (route_get(seen[0], &e.vip)) {
			err = fail(why, wl, "routes name %s twice", vip_fmt(&e.vip, vb));
			goto out;
		}
		if (route_update(seen[0], &e) < 0)
			goto out;
	}
	for (size_t a = 0; a < sf->njobs; a++) {
		for (int x = 0; x < sf->jobs[a].nvips; x++) {
			e.vip = sf->jobs[a].vips[x];
			if (route_get(seen[1], &e.vip)) {
				err = fail(why, wl, "%s is in two jobs", vip_fmt(&e.vip, vb));
				goto out;
			}
			if (route_update(seen[1], &e) < 0)
				goto out;
		}
	}
	err = 0;
out:
	route_table_free(seen[0]);
	route_table_free(seen[1]);
	return err;
}

int statefile_parse(const char *buf, size_t len, struct statefile *sf, char *why,
		    size_t whylen)
{
	json_t *root, *jobs, *routes, *peers, *v;
	json_error_t jerr;
	const char *node;
	size_t i;
	int err;

	memset(sf, 0, sizeof(*sf));
	if (len > STATEFILE_MAX_BYTES)
		return fail(why, whylen, "larger than %u bytes", STATEFILE_MAX_BYTES);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return fail(why, whylen, "not JSON: line %d: %s", jerr.line, jerr.text);
	err = -EINVAL;
	if (!json_is_object(root)) {
		fail(why, whylen, "not a JSON object");
		goto out;
	}
	v = json_object_get(root, "version");
	if (!json_is_integer(v) || json_integer_value(v) != STATEFILE_VERSION) {
		fail(why, whylen, "version is not %d", STATEFILE_VERSION);
		goto out;
	}
	node = json_string_value(json_object_get(root, "node"));
	if (!node || !node_name_ok(node)) {
		fail(why, whylen, "node is not a node name");
		goto out;
	}
	snprintf(sf->node, sizeof(sf->node), "%s", node);
	jobs = json_object_get(root, "jobs");
	routes = json_object_get(root, "routes");
	peers = json_object_get(root, "peers");
	if (!json_is_array(jobs) || !json_is_array(routes) || !json_is_array(peers)) {
		fail(why, whylen, "jobs, routes or peers is not a list");
		goto out;
	}
	if (json_array_size(jobs) > STATEFILE_MAX_JOBS ||
	    json_array_size(routes) > STATEFILE_MAX_ROUTES ||
	    json_array_size(peers) > STATEFILE_MAX_PEERS) {
		fail(why, whylen, "more than %d jobs, %u routes or %d peers", STATEFILE_MAX_JOBS,
		     STATEFILE_MAX_ROUTES, STATEFILE_MAX_PEERS);
		goto out;
	}
	err = -ENOMEM;
	sf->jobs = calloc(json_array_size(jobs) + 1, sizeof(*sf->jobs));
	sf->routes = calloc(json_array_size(routes) + 1, sizeof(*sf->routes));
	sf->peers = calloc(json_array_size(peers) + 1, sizeof(*sf->peers));
	if (!sf->jobs || !sf->routes || !sf->peers)
		goto out;
	json_array_foreach(jobs, i, v) {
		err = parse_job(v, i, &sf->jobs[i], why, whylen);
		if (err < 0)
			goto out;
		sf->njobs++;
	}
	json_array_foreach(routes, i, v) {
		err = parse_route(v, i, &sf->routes[i], why, whylen);
		if (err < 0)
			goto out;
		sf->nroutes++;
	}
	json_array_foreach(peers, i, v) {
		err = parse_peer(v, i, &sf->peers[i], why, whylen);
		if (err < 0)
			goto out;
		sf->npeers++;
	}
	err = check_unique(sf, why, whylen);
out:
	json_decref(root);
	if (err < 0)
		statefile_free(sf);
	return err;
}

char *statefile_format(const struct statefile *sf)
{
	json_t *root, *jobs = json_array(), *routes = json_array(), *peers = json_array();
	char vb[VIP_STRLEN], ab[ADDR_STRLEN], *txt;
	bool ok = jobs && routes && peers;

	for (size_t i = 0; ok && i < sf->njobs; i++) {
		const struct statefile_job *j = &sf->jobs[i];
		json_t *vips = json_array();

		for (int k = 0; vips && k < j->nvips; k++)
			json_array_append_new(vips, json_string(vip_fmt(&j->vips[k], vb)));
		ok = json_array_append_new(jobs, json_pack("{s:s, s:[I,I], s:s, s:b, s:o*}",
			"netns", j->netns, "nsid", (json_int_t)j->ns_dev, (json_int_t)j->ns_ino,
			"state", state_names[j->state], "handing_over", j->handing_over,
			"vips", vips)) == 0;
	}
	for (size_t i = 0; ok && i < sf->nroutes; i++) {
		const struct statefile_route *r = &sf->routes[i];

		ok = json_array_append_new(routes, json_pack("{s:s, s:I, s:b}",
			"vip", vip_fmt(&r->vip, vb), "epoch", (json_int_t)r->epoch,
			"withdrawn", r->withdrawn)) == 0;
	}
	for (size_t i = 0; ok && i < sf->npeers; i++)
		ok = json_array_append_new(peers, json_pack("{s:s, s:s}", "name", sf->peers[i].name,
			"addr", addr_fmt(&sf->peers[i].addr, ab))) == 0;
	if (!ok) {
		json_decref(jobs);
		json_decref(routes);
		json_decref(peers);
		return NULL;
	}
	root = json_pack("{s:i, s:s, s:o, s:o, s:o}", "version", STATEFILE_VERSION, "node",
			 sf->node, "jobs", jobs, "routes", routes, "peers", peers);
	if (!root)
		return NULL;
	/* Compact: with thousands of jobs the file is rewritten often; `jq .` reads it. */
	txt = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return txt;
}

void statefile_free(struct statefile *sf)
{
	free(sf->jobs);
	free(sf->routes);
	free(sf->peers);
	memset(sf, 0, sizeof(*sf));
}
