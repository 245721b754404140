/* vnetctl events: the daemon's recent control-plane events, and with -f every new one as
 * it happens.
 *
 * Following is a stream: the daemon answers {"following": true} and then writes one JSON
 * event object per line for as long as the connection lasts. No timeout applies to it;
 * SIGINT or SIGTERM ends it (exit 0), so does a reader that goes away (`| head`). */
#include "ctl/vnetctl.h"

#include <errno.h>
#include <math.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LINE_MAX_BYTES (1u << 20) /* an event line longer than this breaks the stream */

static const struct option opts[] = {
	{ "follow", no_argument, NULL, 'f' },
	{ NULL, 0, NULL, 0 },
};

static const struct client_doc doc = {
	.name = "events",
	.synopsis = "events [-f|--follow]",
	.summary =
		"Prints the daemon's recent control-plane events, oldest first: peers coming\n"
		"up and going down, refused handshakes, route changes (a VIP announced,\n"
		"moved or withdrawn), jobs attached, detached, suspended, resumed, prepared on\n"
		"standby, activated and released (their VIP moved away), drops (at most one\n"
		"line per reason and second, with the count) and limits reached (the same, per\n"
		"[limits] bound: what it refused or evicted). The daemon keeps a bounded\n"
		"ring of them: the oldest are forgotten first.\n"
		"\n"
		"Columns: TIME (local time, to the millisecond), TYPE and DETAILS.\n"
		"\n"
		"With -f, keeps the connection instead and prints every new event as it\n"
		"happens, one line each, until interrupted (Ctrl-C) or the daemon goes away.\n"
		"\n"
		"With --json, prints the daemon's result as it is: an array of event objects\n"
		"with the members ts (seconds since the epoch, a number with a fraction), type\n"
		"(peer_up, peer_down, handshake_refused, route_change, job_attach,\n"
		"job_detach, job_suspend, job_resume, job_standby, job_activate, job_release,\n"
		"job_repair, job_broken,\n"
		"drop, limit) and, by type, node, detail, vip, old_node, old_epoch, new_node,\n"
		"new_epoch, withdrawn, reason, limit and count. With -f and --json, one compact JSON\n"
		"object per line (JSON Lines).",
	.options = "-f, --follow          keep printing new events as they happen\n",
	.exit_ok = "the events were printed; with -f, following was interrupted (SIGINT,\n"
		   "     SIGTERM) or the output's reader went away",
	.exit_err = "tunvnetd answered with an error, could not be reached, did not answer\n"
		    "     within 10 seconds, or (with -f) closed the connection",
	.example = "$ vnetctl events\n"
		   "TIME                     TYPE          DETAILS\n"
		   "2025-05-01 12:00:01.204  peer_up       n2\n"
		   "2025-05-01 12:03:17.881  route_change  198.19.1.10: n1 epoch 2 -> n2 epoch 3\n"
		   "2025-05-01 12:03:17.882  job_release   198.19.1.10: 4 held packets handed "
		   "over\n"
		   "2025-05-01 12:04:00.000  drop          no_route: 3 packets",
};

/* "2025-05-01 12:03:17.881" in local time, from seconds since the epoch. */
static const char *when(const json_t *ts, char *buf, size_t size)
{
	double t = json_number_value(ts);
	long long total;
	struct tm tm;
	time_t tt;
	long ms;
	size_t n;

	if (!json_is_number(ts) || !isfinite(t) || t < 0 || t > 1e12) {
		snprintf(buf, size, "-");
		return buf;
	}
	total = (long long)(t * 1000 + 0.5);
	tt = (time_t)(total / 1000);
	ms = (long)(total % 1000);
	if (!localtime_r(&tt, &tm) || (n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm)) == 0) {
		snprintf(buf, size, "-");
		return buf;
	}
	snprintf(buf + n, size - n, ".%03ld", ms);
	return buf;
}

/* Appends member key of ev to f as text; false when it is absent, null or "". */
static bool put(FILE *f, const json_t *ev, const char *key)
{
	const json_t *v = json_object_get(ev, key);

	if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
		return false;
	if (json_is_string(v))
		fputs(json_string_value(v), f);
	else
		json_dumpf(v, f, JSON_COMPACT | JSON_ENCODE_ANY);
	return true;
}

static bool has(const json_t *ev, const char *key)
{
	const json_t *v = json_object_get(ev, key);

	return v && !json_is_null(v) && !(json_is_string(v) && !*json_string_value(v));
}

/* A route change reads as the move it is: "VIP: n1 epoch 2 -> n2 epoch 3". */
static void route_change(FILE *f, const json_t *ev)
{
	put(f, ev, "vip");
	if (json_is_true(json_object_get(ev, "withdrawn"))) {
		fputs(" withdrawn", f);
		if (has(ev, "old_node")) {
			fputs(" (was ", f);
			put(f, ev, "old_node");
			fputs(" epoch ", f);
			put(f, ev, "old_epoch");
			fputc(')', f);
		}
		return;
	}
	fputs(": ", f);
	if (has(ev, "old_node")) {
		put(f, ev, "old_node");
		fputs(" epoch ", f);
		put(f, ev, "old_epoch");
	} else {
		fputs("(none)", f);
	}
	fputs(" -> ", f);
	put(f, ev, "new_node");
	fputs(" epoch ", f);
	put(f, ev, "new_epoch");
}

/* The members the type-specific text above has shown, so the rest are added as
 * key=value and nothing the daemon says is lost. */
static bool shown(const char *type, const char *key)
{
	static const char *const always[] = { "ts", "type", "node", "vip", "detail" };
	static const char *const route[] = { "old_node", "old_epoch", "new_node", "new_epoch",
					     "withdrawn" };
	size_t i;

	for (i = 0; i < sizeof(always) / sizeof(always[0]); i++)
		if (strcmp(key, always[i]) == 0)
			return true;
	if (strcmp(type, "route_change") == 0)
		for (i = 0; i < sizeof(route) / sizeof(route[0]); i++)
			if (strcmp(key, route[i]) == 0)
				return true;
	if (strcmp(type, "drop") == 0)
		return strcmp(key, "reason") == 0 || strcmp(key, "count") == 0;
	if (strcmp(type, "limit") == 0)
		return strcmp(key, "limit") == 0 || strcmp(key, "count") == 0;
	return false;
}

char *events_describe(const json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type")), *key;
	char *text = NULL;
	bool any = false;
	size_t size;
	json_t *v;
	FILE *f;

	f = open_memstream(&text, &size);
	if (!f)
		return NULL;
	if (!type)
		type = "";
	if (strcmp(type, "route_change") == 0) {
		route_change(f, ev);
		any = true;
	} else if (strcmp(type, "drop") == 0) {
		put(f, ev, "reason");
		fputs(": ", f);
		if (!put(f, ev, "count"))
			fputc('?', f);
		fputs(json_integer_value(json_object_get(ev, "count")) == 1 ? " packet" :
		      " packets", f);
		any = true;
	} else if (strcmp(type, "limit") == 0) {
		put(f, ev, "limit");
		fputs(" reached: ", f);
		if (!put(f, ev, "count"))
			fputc('?', f);
		fputs(" refused or evicted", f);
		any = true;
	} else {
		/* peers name a node, jobs a VIP; either may come with a detail */
		any = put(f, ev, "node");
		if (has(ev, "vip")) {
			if (any)
				fputc(' ', f);
			any = put(f, ev, "vip");
		}
	}
	if (has(ev, "detail")) {
		fputs(any ? ": " : "", f);
		put(f, ev, "detail");
		any = true;
	}
	json_object_foreach((json_t *)ev, key, v) {
		if (shown(type, key) || !has(ev, key))
			continue;
		fprintf(f, "%s%s=", any ? " " : "", key);
		put(f, ev, key);
		any = true;
	}
	if (!any)
		fputc('-', f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static int print_table(const json_t *res)
{
	static const char *const headers[] = { "TIME", "TYPE", "DETAILS" };
	const json_t *ev;
	struct table t;
	char buf[64], *d;
	size_t i;

	if (!json_is_array(res))
		return client_bad_result("the event list is not a list");
	json_array_foreach(res, i, ev) {
		if (!json_is_object(ev))
			return client_bad_result("event %zu is not an object", i + 1);
	}
	table_init(&t, 3, headers, 0);
	json_array_foreach(res, i, ev) {
		table_add(&t, "%s", when(json_object_get(ev, "ts"), buf, sizeof(buf)));
		table_add_json(&t, json_object_get(ev, "type"));
		d = events_describe(ev);
		if (!d)
			t.err = t.err ?: -ENOMEM;
		else
			table_add(&t, "%s", d);
		free(d);
	}
	return table_output(&t);
}

/* One followed event on stdout, flushed: a reader downstream sees it now. Returns 0,
 * 1 when the line is not an event, or -EPIPE when the reader has gone. */
static int print_line(const char *line, size_t len, bool json)
{
	char tbuf[64], type[64], *d, *safe;
	json_error_t jerr;
	json_t *ev;
	int r = 0;

	ev = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(ev)) {
		json_decref(ev);
		return client_bad_result("an event line is not a JSON object: %s",
					 ev ? "another value" : jerr.text);
	}
	if (json) {
		r = json_dumpf(ev, stdout, JSON_COMPACT | JSON_REAL_PRECISION(16)) < 0 ||
		    fputc('\n', stdout) == EOF;
	} else {
		d = events_describe(ev);
		safe = d ? malloc(strlen(d) + 1) : NULL;
		if (!safe) {
			free(d);
			json_decref(ev);
			fprintf(stderr, "vnetctl: out of memory\n");
			return VNETCTL_EXIT_ERROR;
		}
		table_safe(d, safe, strlen(d) + 1);
		table_safe(json_string_value(json_object_get(ev, "type")), type, sizeof(type));
		r = printf("%s  %-17s %s\n", when(json_object_get(ev, "ts"), tbuf, sizeof(tbuf)),
			   type, safe) < 0;
		free(safe);
		free(d);
	}
	json_decref(ev);
	if (!r && fflush(stdout) != EOF)
		return 0;
	if (errno == EPIPE)
		return -EPIPE;
	fprintf(stderr, "vnetctl: writing the output failed: %s\n", strerror(errno));
	return VNETCTL_EXIT_ERROR;
}

/* Prints every complete line the stream holds. 0, 1 on a bad line or output error,
 * -EPIPE when the reader went away. */
static int drain(struct client_stream *s, bool json)
{
	const char *p, *nl;
	size_t n;
	int r;

	for (;;) {
		p = (const char *)s->buf + s->off;
		n = s->len - s->off;
		nl = memchr(p, '\n', n);
		if (!nl)
			return 0;
		if (nl > p) {
			r = print_line(p, (size_t)(nl - p), json);
			if (r)
				return r;
		}
		client_stream_consume(s, (size_t)(nl - p) + 1);
	}
}

static int follow(const struct ctl_opts *o)
{
	struct ctl_request req = { .version = CTL_VERSION, .cmd = CTL_CMD_EVENTS, .follow = true };
	struct client_stream s;
	struct pollfd p;
	json_t *res;
	int r;

	if (client_signals_catch() < 0) {
		fprintf(stderr, "vnetctl: cannot catch signals: %s\n", strerror(errno));
		return VNETCTL_EXIT_ERROR;
	}
	r = client_stream_open(o->socket, &req, NULL, 0, &res, &s);
	if (r)
		return r;
	if (!json_is_true(json_object_get(res, "following"))) {
		json_decref(res);
		client_stream_close(&s);
		return client_bad_result("events -f: the reply is not {\"following\": true}");
	}
	json_decref(res);

	for (;;) {
		r = drain(&s, o->json);
		if (r)
			break;
		if (s.eof) {
			fprintf(stderr, "vnetctl: tunvnetd on %s closed the connection\n",
				o->socket);
			r = VNETCTL_EXIT_ERROR;
			break;
		}
		p = (struct pollfd){ .fd = s.fd, .events = POLLIN };
		r = client_poll(&p, 1, -1);
		if (r == -EINTR) {
			r = 0;
			break;
		}
		if (r < 0) {
			fprintf(stderr, "vnetctl: poll: %s\n", strerror(-r));
			r = VNETCTL_EXIT_ERROR;
			break;
		}
		r = client_stream_read(&s, LINE_MAX_BYTES);
		if (r == -ENOBUFS) {
			r = client_bad_result("an event line is longer than %u bytes",
					      LINE_MAX_BYTES);
			break;
		}
		if (r < 0 && r != -EAGAIN) {
			fprintf(stderr, "vnetctl: reading from tunvnetd on %s: %s\n", o->socket,
				strerror(-r));
			r = VNETCTL_EXIT_ERROR;
			break;
		}
	}
	client_stream_close(&s);
	if (r == -EPIPE) {
		/* the reader has gone: what is still buffered cannot reach it either */
		__fpurge(stdout);
		clearerr(stdout);
		return 0;
	}
	return r;
}

static int on_opt(int c, const char *arg, void *ctx)
{
	bool *f = ctx;

	if (c != 'f')
		return client_usage(&doc, "unexpected option");
	*f = true;
	return -1;
}

int cmd_events(int argc, char **argv, const struct ctl_opts *global)
{
	struct ctl_request req = { .version = CTL_VERSION, .cmd = CTL_CMD_EVENTS };
	struct ctl_opts o = *global;
	bool f = false;
	json_t *res;
	int r;

	r = client_args(argc, argv, &o, &doc, opts, on_opt, &f);
	if (r >= 0)
		return r;
	if (f)
		return follow(&o);
	r = client_call(&o, &req, &res);
	if (r)
		return r;
	r = o.json ? client_print_json(res) : print_table(res);
	json_decref(res);
	return r;
}
