/* Prometheus text exposition of the stats result: golden output, names, escaping,
 * families, and every line of every output checked against the format's grammar. */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tunvnet/prom.h"

/* ---- a validator of the text format, version 0.0.4 ----
 *
 * Line grammar (POSIX extended regular expressions):
 *   # HELP <metric name> <docstring with \\ and \n escaped>
 *   # TYPE <metric name> counter|gauge|histogram|summary|untyped
 *   <metric name>[{<label>="<value>"(,<label>="<value>")*[,]}] <value>[ <timestamp>]
 * plus what the grammar cannot say: a family's TYPE comes once, before its samples; a
 * family's samples are contiguous; no series (name and label set) appears twice; a
 * counter is never negative and (as OpenMetrics wants) its name ends in _total; no
 * empty lines; the text ends with a newline. */

#define NAME   "[a-zA-Z_:][a-zA-Z0-9_:]*"
#define LNAME  "[a-zA-Z_][a-zA-Z0-9_]*"
#define LVALUE "([^\"\\\\\n]|\\\\[\\\\\"n])*"
#define LABEL  LNAME "=\"" LVALUE "\""
#define FLOAT  "([-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?|[-+]?Inf|NaN)"

static const char re_help[] = "^# HELP (" NAME ") ([^\\\\\n]|\\\\[\\\\n])*$";
static const char re_type[] = "^# TYPE (" NAME ") (counter|gauge|histogram|summary|untyped)$";
static const char re_sample[] = "^(" NAME ")(\\{(" LABEL "(," LABEL ")*,?)?\\})? " FLOAT
				"( -?[0-9]+)?$";

#define MAX_FAMILIES 1024
#define MAX_SERIES   2048

struct seen {
	char names[MAX_FAMILIES][128]; /* families, in order */
	char types[MAX_FAMILIES][16];
	bool help[MAX_FAMILIES];
	int n;
	char series[MAX_SERIES][256];
	int nseries;
};

static int family_of(struct seen *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return i;
	return -1;
}

/* Returns NULL when text is valid, else a message naming the first bad line. */
static const char *validate(const char *text)
{
	static char msg[1024];
	static struct seen s;
	regex_t help, type, smp;
	regmatch_t m[4];
	const char *p = text, *nl, *err = NULL;
	char line[2048], name[128];
	int cur = -1, f, i;
	size_t n;

	memset(&s, 0, sizeof(s));
	assert_int_equal(regcomp(&help, re_help, REG_EXTENDED), 0);
	assert_int_equal(regcomp(&type, re_type, REG_EXTENDED), 0);
	assert_int_equal(regcomp(&smp, re_sample, REG_EXTENDED), 0);
	if (*text && text[strlen(text) - 1] != '\n') {
		err = "the text does not end with a newline";
		goto out;
	}
	for (; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		n = (size_t)(nl - p);
		assert_true(n < sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
#define BAD(why) do { snprintf(msg, sizeof(msg), "%s: \"%.900s\"", why, line); err = msg; \
		      goto out; } while (0)
		if (n == 0)
			BAD("empty line");
		if (regexec(&help, line, 2, m, 0) == 0) {
			snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
				 line + m[1].rm_so);
			f = family_of(&s, name);
			if (f >= 0 && (s.help[f] || f != cur))
				BAD("a second HELP, or HELP after the family");
			if (f < 0) {
				assert_true(s.n < MAX_FAMILIES);
				f = s.n++;
				snprintf(s.names[f], sizeof(s.names[f]), "%s", name);
			}
			s.help[f] = true;
			cur = f;
		} else if (regexec(&type, line, 3, m, 0) == 0) {
			snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
				 line + m[1].rm_so);
			f = family_of(&s, name);
			if (f >= 0 && (s.types[f][0] || f != cur))
				BAD("a second TYPE, or TYPE after the family");
			if (f < 0) {
				assert_true(s.n < MAX_FAMILIES);
				f = s.n++;
				snprintf(s.names[f], sizeof(s.names[f]), "%s", name);
			}
			snprintf(s.types[f], sizeof(s.types[f]), "%.*s",
				 (int)(m[2].rm_eo - m[2].rm_so), line + m[2].rm_so);
			cur = f;
		} else if (line[0] != '#' && regexec(&smp, line, 2, m, 0) == 0) {
			snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
				 line + m[1].rm_so);
			f = family_of(&s, name);
			if (f < 0 || !s.types[f][0])
				BAD("a sample without TYPE");
			if (f != cur)
				BAD("a family's samples are not together");
			if (strcmp(s.types[f], "counter") == 0) {
				if (n < 6 || !strstr(name, "_total") ||
				    strcmp(name + strlen(name) - 6, "_total"))
					BAD("a counter whose name does not end in _total");
				if (strchr(line, ' ')[1] == '-')
					BAD("a negative counter");
			}
			/* the series: everything before the value */
			for (i = 0; i < s.nseries; i++)
				if (strncmp(s.series[i], line, strrchr(line, ' ') - line) == 0 &&
				    s.series[i][strrchr(line, ' ') - line] == '\0')
					BAD("a series that appears twice");
			assert_true(s.nseries < MAX_SERIES);
			snprintf(s.series[s.nseries++], sizeof(s.series[0]), "%.*s",
				 (int)(strrchr(line, ' ') - line), line);
		} else {
			BAD("not a HELP, TYPE or sample line");
		}
#undef BAD
	}
out:
	regfree(&help);
	regfree(&type);
	regfree(&smp);
	return err;
}

static void assert_valid(const char *text)
{
	const char *err = validate(text);

	if (err)
		print_error("invalid exposition: %s\n--- text ---\n%s", err, text);
	assert_null(err);
}

static char *format(const char *json)
{
	json_error_t jerr;
	json_t *stats = json_loads(json, 0, &jerr);
	char *text;

	if (!stats)
		print_error("bad test JSON: %s\n", jerr.text);
	assert_non_null(stats);
	text = prom_format(stats);
	json_decref(stats);
	assert_non_null(text);
	assert_valid(text);
	return text;
}

/* ---- the validator itself must be able to fail ---- */

static void test_validator_rejects(void **state)
{
	static const char *const bad[] = {
		"x_total 1",                                          /* no newline */
		"x_total 1\n",                                        /* no TYPE */
		"# TYPE x_total counter\nx_total one\n",              /* value */
		"# TYPE x_total counter\nx_total{a=\"b} 1\n",         /* quote */
		"# TYPE x_total counter\nx_total{a=\"b\\q\"} 1\n",    /* escape */
		"# TYPE x_total counter\nx_total{a=b} 1\n",           /* unquoted */
		"# TYPE x_total counter\nx_total{1a=\"b\"} 1\n",      /* label name */
		"# TYPE x_total counter\nx_total -1\n",               /* negative counter */
		"# TYPE x counter\nx 1\n",                            /* counter without _total */
		"# TYPE x_total counter\n# TYPE x_total counter\n",   /* TYPE twice */
		"# TYPE x_total counterish\n",                        /* type */
		"# TYPE x-y gauge\n",                                 /* name */
		"# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n",    /* not together */
		"# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n",       /* series twice */
		"# TYPE a gauge\n\na 1\n",                            /* empty line */
		"# HELP a line\nbreak\n# TYPE a gauge\n",             /* raw newline in HELP */
		"# TYPE a gauge\na 1 2 3\n",                          /* trailing junk */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!validate(bad[i]))
			print_error("the validator accepted: %s\n", bad[i]);
		assert_non_null(validate(bad[i]));
	}
	assert_null(validate(""));
	assert_null(validate("# HELP a A \\\\ and \\n.\n# TYPE a gauge\n"
			     "a{x=\"\\\"\\n\\\\\",y=\"\",} -1.5e-3 1700000000000\na NaN\n"));
	assert_null(validate("# TYPE b gauge\nb +Inf\nb{k=\"v\"} -Inf\n"));
}

/* ---- the formatter ---- */

static void test_golden(void **state)
{
	char *text = format("{\"node\":\"n1\",\"counters\":{\"tun_rx_packets\":10,"
			    "\"link_ups\":2},\"drops\":{\"no_route\":3,\"queue_full\":0}}");

	assert_string_equal(text,
		"# HELP tunvnet_tun_rx_packets_total Packets read from the jobs' TUN devices "
		"(sent by the jobs).\n"
		"# TYPE tunvnet_tun_rx_packets_total counter\n"
		"tunvnet_tun_rx_packets_total{node=\"n1\"} 10\n"
		"# HELP tunvnet_link_ups_total Peer links that came up.\n"
		"# TYPE tunvnet_link_ups_total counter\n"
		"tunvnet_link_ups_total{node=\"n1\"} 2\n"
		"# HELP tunvnet_drops_total Packets dropped, by reason.\n"
		"# TYPE tunvnet_drops_total counter\n"
		"tunvnet_drops_total{node=\"n1\",reason=\"no_route\"} 3\n"
		"tunvnet_drops_total{node=\"n1\",reason=\"queue_full\"} 0\n");
	free(text);
}

/* What the daemon sends today (every counter and reason of stats.h), plus the
 * optional per-job, per-peer and per-substrate groups. */
static void test_full_stats(void **state)
{
	char *text = format(
		"{\"node\":\"node-1.rack_2\",\"counters\":{\"tun_rx_packets\":120433,"
		"\"tun_rx_bytes\":163289016,\"tun_tx_packets\":1,\"tun_tx_bytes\":2,"
		"\"peer_tx_packets\":3,\"peer_tx_bytes\":4,\"peer_rx_packets\":5,"
		"\"peer_rx_bytes\":6,\"local_switched\":7,\"icmp_unreach_sent\":8,"
		"\"handshake_refused\":9,\"protocol_errors\":10,\"link_ups\":11,"
		"\"link_downs\":18446744073709551},"
		"\"drops\":{\"spoofed_source\":0,\"no_route\":1,\"no_link\":2,\"queue_full\":3,"
		"\"malformed\":4,\"not_local\":5,\"non_unicast\":6,\"tun_write\":7},"
		"\"jobs\":{\"job1\":{\"rx_packets\":5,\"tx_packets\":6,\"state\":\"active\","
		"\"held_packets\":2,\"drops\":{\"no_route\":4,\"hold_full\":0}},"
		"\"/proc/42/ns/net\":{\"rx_packets\":1,\"vips\":[\"198.19.1.10\"]}},"
		"\"peers\":{\"n2\":{\"tx_frames\":100,\"rtt_ms\":0.42,\"since_s\":30,\"up\":true},"
		"\"n3\":{\"tx_frames\":0,\"rtt_ms\":-1,\"up\":false}},"
		"\"substrates\":{\"tcp\":{\"tx_bytes\":99,\"credits\":{\"x\":1}}}}");

	assert_non_null(strstr(text, "tunvnet_link_downs_total{node=\"node-1.rack_2\"} "
				     "18446744073709551\n"));
	assert_non_null(strstr(text, "tunvnet_drops_total{node=\"node-1.rack_2\","
				     "reason=\"tun_write\"} 7\n"));
	assert_non_null(strstr(text, "# TYPE tunvnet_job_rx_packets_total counter\n"
				     "tunvnet_job_rx_packets_total{node=\"node-1.rack_2\","
				     "job=\"job1\"} 5\n"
				     "tunvnet_job_rx_packets_total{node=\"node-1.rack_2\","
				     "job=\"/proc/42/ns/net\"} 1\n"));
	assert_non_null(strstr(text, "tunvnet_peer_tx_frames_total{node=\"node-1.rack_2\","
				     "peer=\"n3\"} 0\n"));
	/* an RTT, an age and a flag are gauges, without _total */
	assert_non_null(strstr(text, "# TYPE tunvnet_peer_rtt_ms gauge\n"));
	assert_non_null(strstr(text, "tunvnet_peer_rtt_ms{node=\"node-1.rack_2\",peer=\"n2\"} "
				     "0.41999999999999998\n"));
	assert_non_null(strstr(text, "tunvnet_peer_rtt_ms{node=\"node-1.rack_2\",peer=\"n3\"} "
				     "-1\n"));
	assert_non_null(strstr(text, "# TYPE tunvnet_peer_since_s gauge\n"));
	assert_non_null(strstr(text, "tunvnet_peer_up{node=\"node-1.rack_2\",peer=\"n2\"} 1\n"));
	assert_non_null(strstr(text, "tunvnet_peer_up{node=\"node-1.rack_2\",peer=\"n3\"} 0\n"));
	assert_non_null(strstr(text, "tunvnet_substrate_tx_bytes_total{node=\"node-1.rack_2\","
				     "substrate=\"tcp\"} 99\n"));
	/* strings and arrays are not numbers */
	assert_null(strstr(text, "state"));
	assert_null(strstr(text, "vips"));
	/* objects of numbers: one more label */
	assert_non_null(strstr(text, "# TYPE tunvnet_job_drops_total counter\n"
				     "tunvnet_job_drops_total{node=\"node-1.rack_2\",job=\"job1\","
				     "reason=\"no_route\"} 4\n"
				     "tunvnet_job_drops_total{node=\"node-1.rack_2\",job=\"job1\","
				     "reason=\"hold_full\"} 0\n"));
	assert_non_null(strstr(text, "tunvnet_substrate_credits_total{node=\"node-1.rack_2\","
				     "substrate=\"tcp\",key=\"x\"} 1\n"));
	/* what is held now is a gauge */
	assert_non_null(strstr(text, "# TYPE tunvnet_job_held_packets gauge\n"
				     "tunvnet_job_held_packets{node=\"node-1.rack_2\","
				     "job=\"job1\"} 2\n"));
	/* a help line for a counter the daemon has documented */
	assert_non_null(strstr(text, "# HELP tunvnet_icmp_unreach_sent_total ICMP and ICMPv6 "
				     "unreachable errors sent to jobs.\n"));
	free(text);
}

static void test_label_escaping(void **state)
{
	char *text = format("{\"node\":\"n\\\"1\\\\x\\ny\",\"counters\":{\"a\":1},"
			    "\"drops\":{\"we\\\"ird\":2},\"jobs\":{\"j\\\\\\n\":{\"b\":3}}}");

	assert_non_null(strstr(text, "tunvnet_a_total{node=\"n\\\"1\\\\x\\ny\"} 1\n"));
	assert_non_null(strstr(text, "reason=\"we\\\"ird\"} 2\n"));
	assert_non_null(strstr(text, "job=\"j\\\\\\n\"} 3\n"));
	free(text);
}

static void test_names(void **state)
{
	char *text = format("{\"node\":\"n1\",\"counters\":{\"rx-bytes.v6\":1,\"sent_total\":2,"
			    "\"caf\\u00e9\":3,\"9lives\":4},\"jobs\":{\"j\":{\"odd name\":5}}}");

	assert_non_null(strstr(text, "\ntunvnet_rx_bytes_v6_total{node=\"n1\"} 1\n"));
	/* a name that ends in _total already does not get a second one */
	assert_non_null(strstr(text, "\ntunvnet_sent_total{node=\"n1\"} 2\n"));
	assert_null(strstr(text, "sent_total_total"));
	/* two bytes of UTF-8, two underscores */
	assert_non_null(strstr(text, "\ntunvnet_caf___total{node=\"n1\"} 3\n"));
	assert_non_null(strstr(text, "\ntunvnet_9lives_total{node=\"n1\"} 4\n"));
	assert_non_null(strstr(text, "\ntunvnet_job_odd_name_total{node=\"n1\",job=\"j\"} 5\n"));
	/* a generic help line for counters nobody documented */
	assert_non_null(strstr(text, "# HELP tunvnet_rx_bytes_v6_total tunvnet counter "
				     "rx-bytes.v6.\n"));
	free(text);
}

/* The node counter peer_tx_packets and the peers' tx_packets would make one name: the
 * node's goes under "node_", so that sum() over the per-peer family is the total. */
static void test_shared_family(void **state)
{
	char *text = format("{\"node\":\"n1\",\"counters\":{\"peer_tx_packets\":7},"
			    "\"peers\":{\"n2\":{\"tx_packets\":4},\"n3\":{\"tx_packets\":3}}}");

	assert_string_equal(text,
		"# HELP tunvnet_node_peer_tx_packets_total Data frames queued to peers, all "
		"peers together: sum(tunvnet_peer_tx_packets_total).\n"
		"# TYPE tunvnet_node_peer_tx_packets_total counter\n"
		"tunvnet_node_peer_tx_packets_total{node=\"n1\"} 7\n"
		"# HELP tunvnet_peer_tx_packets_total Per-peer counter tx_packets.\n"
		"# TYPE tunvnet_peer_tx_packets_total counter\n"
		"tunvnet_peer_tx_packets_total{node=\"n1\",peer=\"n2\"} 4\n"
		"tunvnet_peer_tx_packets_total{node=\"n1\",peer=\"n3\"} 3\n");
	free(text);
}

/* Many families (the real daemon has some 40): none may be lost or garbled when the
 * formatter's tables grow. */
static void test_many_families(void **state)
{
	char *json, *text, want[128];
	size_t off = 0, size = 64 * 1024;
	int i;

	json = malloc(size);
	assert_non_null(json);
	off += (size_t)snprintf(json + off, size - off, "{\"node\":\"n1\",\"counters\":{");
	for (i = 0; i < 300; i++)
		off += (size_t)snprintf(json + off, size - off, "%s\"c%d\":%d", i ? "," : "", i,
					i * 3);
	off += (size_t)snprintf(json + off, size - off, "},\"peers\":{");
	for (i = 0; i < 50; i++)
		off += (size_t)snprintf(json + off, size - off, "%s\"n%d\":{\"m%d\":%d,"
					"\"drops\":{\"r\":%d}}", i ? "," : "", i, i % 7, i, i);
	snprintf(json + off, size - off, "}}");
	text = format(json);
	for (i = 0; i < 300; i++) {
		snprintf(want, sizeof(want), "\ntunvnet_c%d_total{node=\"n1\"} %d\n", i, i * 3);
		assert_non_null(strstr(text, want));
	}
	for (i = 0; i < 50; i++) {
		snprintf(want, sizeof(want), "\ntunvnet_peer_m%d_total{node=\"n1\",peer=\"n%d\"} "
			 "%d\n", i % 7, i, i);
		assert_non_null(strstr(text, want));
		snprintf(want, sizeof(want), "\ntunvnet_peer_drops_total{node=\"n1\",peer=\"n%d\","
			 "reason=\"r\"} %d\n", i, i);
		assert_non_null(strstr(text, want));
	}
	free(text);
	free(json);
}

static void test_minimal(void **state)
{
	char *text;

	/* no node: no node label; no drops: no drops family */
	text = format("{\"counters\":{\"x\":1}}");
	assert_string_equal(text, "# HELP tunvnet_x_total tunvnet counter x.\n"
				  "# TYPE tunvnet_x_total counter\ntunvnet_x_total 1\n");
	free(text);
	text = format("{\"node\":\"n1\",\"counters\":{}}");
	assert_string_equal(text, "");
	free(text);
	/* an empty drops object still declares its family */
	text = format("{\"node\":\"n1\",\"counters\":{},\"drops\":{},\"jobs\":{},\"peers\":7}");
	assert_string_equal(text, "# HELP tunvnet_drops_total Packets dropped, by reason.\n"
				  "# TYPE tunvnet_drops_total counter\n");
	free(text);
}

static void test_invalid_input(void **state)
{
	static const char *const bad[] = {
		"[]", "7", "{}", "{\"node\":\"n1\"}", "{\"counters\":[1]}",
		"{\"counters\":{},\"drops\":[]}", "{\"counters\":{},\"node\":5}",
	};
	json_t *v;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		errno = 0;
		assert_null(prom_format(v));
		assert_int_equal(errno, EINVAL);
		json_decref(v);
	}
	errno = 0;
	assert_null(prom_format(NULL));
	assert_int_equal(errno, EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validator_rejects),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_full_stats),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_shared_family),
		cmocka_unit_test(test_many_families),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_invalid_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
