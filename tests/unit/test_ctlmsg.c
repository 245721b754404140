/* Control protocol codec: requests and replies, both directions, good and bad lines. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "tunvnet/ctlmsg.h"

static char why[256];

/* Parses a NUL-terminated line; why gets the message. */
static enum ctl_err parse(const char *line, struct ctl_request *req)
{
	return ctlmsg_request_parse(line, strlen(line), req, why, sizeof(why));
}

static void expect(const char *line, enum ctl_err e, const char *needle)
{
	struct ctl_request req;
	enum ctl_err got = parse(line, &req);

	if (got != e || !strstr(why, needle))
		print_error("line %s: got %s \"%s\", want %s containing \"%s\"\n", line,
			    ctlmsg_err_name(got), why, ctlmsg_err_name(e), needle);
	assert_int_equal(got, e);
	assert_non_null(strstr(why, needle));
	/* a refused request leaves nothing half-filled behind */
	assert_int_equal(req.cmd, 0);
	assert_false(req.has_vip);
	assert_string_equal(req.netns, "");
}

static void vip_of(const char *s, struct vip *v)
{
	assert_int_equal(vip_parse(s, v), 0);
}

/* Encodes req, checks the line's shape, parses it back and compares. */
static void round_trip(const struct ctl_request *req)
{
	struct ctl_request back;
	char *line = ctlmsg_request_encode(req);
	size_t n;

	assert_non_null(line);
	n = strlen(line);
	assert_true(n > 1);
	assert_int_equal(line[n - 1], '\n');
	assert_null(memchr(line, '\n', n - 1));
	assert_int_equal(ctlmsg_request_parse(line, n, &back, why, sizeof(why)), CTL_OK);
	assert_int_equal(back.version, CTL_VERSION);
	assert_int_equal(back.cmd, req->cmd);
	assert_string_equal(back.netns, req->netns);
	assert_int_equal(back.has_vip, req->has_vip);
	if (req->has_vip)
		assert_true(vip_equal(&back.vip, &req->vip));
	assert_int_equal(back.family, req->family);
	assert_int_equal(back.standby, req->standby);
	assert_string_equal(back.to, req->to);
	assert_int_equal(back.scope, req->scope);
	assert_string_equal(back.peer, req->peer);
	assert_int_equal(back.cluster, req->cluster);
	assert_string_equal(back.filter, req->filter);
	assert_int_equal(back.count, req->count);
	assert_int_equal(back.duration_ms, req->duration_ms);
	assert_int_equal(back.snaplen, req->snaplen);
	assert_int_equal(back.follow, req->follow);
	assert_string_equal(back.policy, req->policy);
	/* the same line without its newline is the same request */
	memset(&back, 0xa5, sizeof(back));
	assert_int_equal(ctlmsg_request_parse(line, n - 1, &back, why, sizeof(why)), CTL_OK);
	assert_int_equal(back.cmd, req->cmd);
	free(line);
}

static void test_request_round_trip(void **state)
{
	struct ctl_request r;
	int c;

	for (c = 0; c < CTL_CMD_MAX; c++) {
		memset(&r, 0, sizeof(r));
		r.version = CTL_VERSION;
		r.cmd = (enum ctl_cmd)c;
		if (c == CTL_CMD_ATTACH)
			strcpy(r.netns, "job1");
		if (c == CTL_CMD_DETACH || c == CTL_CMD_ATTACH || c == CTL_CMD_SUSPEND ||
		    c == CTL_CMD_RESUME || c == CTL_CMD_ACTIVATE || c == CTL_CMD_MIGRATE) {
			r.has_vip = true;
			vip_of("198.19.1.10", &r.vip);
		}
		if (c == CTL_CMD_MIGRATE)
			strcpy(r.to, "n2");
		if (c == CTL_CMD_SUBSTRATE) {
			strcpy(r.policy, "udp");
			strcpy(r.peer, "n2");
		}
		round_trip(&r);
	}

	memset(&r, 0, sizeof(r));
	r.cmd = CTL_CMD_ATTACH;
	strcpy(r.netns, "/proc/1234/ns/net");
	round_trip(&r);
	r.family = 6;
	round_trip(&r);
	r.family = 4;
	round_trip(&r);
	r.family = 0;
	r.has_vip = true;
	vip_of("fd00:19:1::a", &r.vip);
	round_trip(&r);

	memset(&r, 0, sizeof(r));
	r.cmd = CTL_CMD_DETACH;
	r.has_vip = true;
	vip_of("fd00:19::1", &r.vip);
	round_trip(&r);
}

static void test_request_fields(void **state)
{
	struct ctl_request r;
	struct vip v;

	assert_int_equal(parse("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"job1\","
			       "\"vip\":\"198.19.1.10/32\"}\n", &r), CTL_OK);
	assert_int_equal(r.cmd, CTL_CMD_ATTACH);
	assert_string_equal(r.netns, "job1");
	assert_true(r.has_vip);
	vip_of("198.19.1.10", &v);
	assert_true(vip_equal(&r.vip, &v));
	assert_int_equal(r.family, 0);

	/* member order and blanks do not matter */
	assert_int_equal(parse(" { \"family\" : 6 , \"netns\" : \"a b\", \"cmd\" : \"attach\","
			       " \"version\" : 1 } \r\n", &r), CTL_OK);
	assert_int_equal(r.family, 6);
	assert_string_equal(r.netns, "a b");
	assert_false(r.has_vip);

	assert_int_equal(parse("{\"version\":1,\"cmd\":\"status\"}", &r), CTL_OK);
	assert_int_equal(r.cmd, CTL_CMD_STATUS);
	assert_string_equal(r.netns, "");
	assert_false(r.has_vip);
}

static void test_request_encode_version(void **state)
{
	struct ctl_request r = { .cmd = CTL_CMD_ROUTES };
	char *line;

	line = ctlmsg_request_encode(&r);
	assert_non_null(line);
	assert_string_equal(line, "{\"version\":1,\"cmd\":\"routes\"}\n");
	free(line);

	r.version = 7;
	line = ctlmsg_request_encode(&r);
	assert_non_null(line);
	assert_string_equal(line, "{\"version\":7,\"cmd\":\"routes\"}\n");
	expect(line, CTL_ERR_VERSION, "version 7");
	free(line);

	r.version = 1;
	r.cmd = CTL_CMD_MAX;
	assert_null(ctlmsg_request_encode(&r));
}

static void test_bad_json(void **state)
{
	expect("", CTL_ERR_BAD_JSON, "empty");
	expect("\n", CTL_ERR_BAD_JSON, "empty");
	expect("   \n", CTL_ERR_BAD_JSON, "not valid JSON");
	expect("{\"version\":1,\"cmd\":\"status\"", CTL_ERR_BAD_JSON, "not valid JSON");
	expect("{\"version\":1,\"cmd\":\"stat", CTL_ERR_BAD_JSON, "not valid JSON");
	expect("{\"version\":1,\"cmd\":\"status\"}}", CTL_ERR_BAD_JSON, "not valid JSON");
	expect("{\"version\":1,\"cmd\":\"status\"}{}", CTL_ERR_BAD_JSON, "not valid JSON");
	expect("status\n", CTL_ERR_BAD_JSON, "not valid JSON");
	expect("\"status\"\n", CTL_ERR_BAD_JSON, "a string, not a JSON object");
	expect("42\n", CTL_ERR_BAD_JSON, "a number, not a JSON object");
	expect("null", CTL_ERR_BAD_JSON, "not a JSON object");
	expect("[{\"version\":1,\"cmd\":\"status\"}]", CTL_ERR_BAD_JSON, "an array");
	expect("[]", CTL_ERR_BAD_JSON, "an array");
	/* invalid UTF-8: a lone continuation byte, an overlong '/', a truncated sequence */
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"j\x80\"}", CTL_ERR_BAD_JSON,
	       "not valid JSON");
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"\xc0\xaf\"}", CTL_ERR_BAD_JSON,
	       "not valid JSON");
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"\xe2\x82\"}", CTL_ERR_BAD_JSON,
	       "not valid JSON");
	/* an embedded NUL ends nothing early */
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"a\\u0000b\"}", CTL_ERR_BAD_JSON,
	       "not valid JSON");
}

static void test_bad_json_nul_byte(void **state)
{
	static const char line[] = "{\"version\":1,\"cmd\":\"status\"}\0garbage";
	struct ctl_request r;

	assert_int_equal(ctlmsg_request_parse(line, sizeof(line) - 1, &r, why, sizeof(why)),
			 CTL_ERR_BAD_JSON);
}

/* The wire decoder refuses "\u0000", so the request checks behind it meet a NUL only in
 * a value built otherwise: each string that reaches a C API (libpcap's filter, the
 * namespace path, node names) is refused whole, never cut at the NUL. */
static void nul_member(const char *cmd, const char *key, const char *val, size_t len,
		       const char *needle)
{
	json_t *o = json_pack("{s:i, s:s, s:s%}", "version", 1, "cmd", cmd, key, val, len);
	struct ctl_request r;
	enum ctl_err e;

	assert_non_null(o);
	e = ctlmsg_request_from_json(o, &r, why, sizeof(why));
	json_decref(o);
	if (e != CTL_ERR_BAD_REQUEST || !strstr(why, needle))
		print_error("%s with a NUL in \"%s\": got %s \"%s\"\n", cmd, key,
			    ctlmsg_err_name(e), why);
	assert_int_equal(e, CTL_ERR_BAD_REQUEST);
	assert_non_null(strstr(why, needle));
	assert_string_equal(r.filter, "");
	assert_string_equal(r.netns, "");
}

static void test_nul_in_strings(void **state)
{
	json_t *o;
	struct ctl_request r;

	(void)state;
	nul_member("capture", "filter", "tcp\0 or udp", 11, "\"filter\" contains a NUL");
	nul_member("attach", "netns", "a\0b", 3, "\"netns\" contains a NUL");
	nul_member("migrate", "to", "n2\0x", 4, "is not a node name");
	/* the same values without the NUL pass the same path */
	o = json_pack("{s:i, s:s, s:s}", "version", 1, "cmd", "capture", "filter", "tcp");
	assert_int_equal(ctlmsg_request_from_json(o, &r, why, sizeof(why)), CTL_OK);
	assert_string_equal(r.filter, "tcp");
	json_decref(o);
}

static void test_wrong_types(void **state)
{
	expect("{\"version\":\"1\",\"cmd\":\"status\"}", CTL_ERR_BAD_REQUEST,
	       "\"version\" must be an integer");
	expect("{\"version\":1.0,\"cmd\":\"status\"}", CTL_ERR_BAD_REQUEST,
	       "\"version\" must be an integer");
	expect("{\"version\":null,\"cmd\":\"status\"}", CTL_ERR_BAD_REQUEST,
	       "\"version\" must be an integer");
	expect("{\"version\":1,\"cmd\":7}", CTL_ERR_BAD_REQUEST, "\"cmd\" must be a string");
	expect("{\"version\":1,\"cmd\":[\"status\"]}", CTL_ERR_BAD_REQUEST,
	       "\"cmd\" must be a string");
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":5}", CTL_ERR_BAD_REQUEST,
	       "\"netns\" must be a string");
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":null}", CTL_ERR_BAD_REQUEST,
	       "\"netns\" must be a string");
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":{}}", CTL_ERR_BAD_REQUEST,
	       "\"netns\" must be a string");
	expect("{\"version\":1,\"cmd\":\"detach\",\"vip\":3306}", CTL_ERR_BAD_REQUEST,
	       "\"vip\" must be a string");
	expect("{\"version\":1,\"cmd\":\"detach\",\"vip\":[\"198.19.1.10\"]}",
	       CTL_ERR_BAD_REQUEST, "\"vip\" must be a string");
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"j\",\"family\":\"4\"}",
	       CTL_ERR_BAD_REQUEST, "\"family\" must be an integer");
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"j\",\"family\":4.0}",
	       CTL_ERR_BAD_REQUEST, "\"family\" must be an integer");
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"j\",\"family\":true}",
	       CTL_ERR_BAD_REQUEST, "\"family\" must be an integer");
}

static void test_missing_members(void **state)
{
	expect("{}", CTL_ERR_BAD_REQUEST, "missing \"version\"");
	expect("{\"cmd\":\"status\"}", CTL_ERR_BAD_REQUEST, "missing \"version\"");
	expect("{\"version\":1}", CTL_ERR_BAD_REQUEST, "missing \"cmd\"");
	expect("{\"version\":1,\"cmd\":\"attach\"}", CTL_ERR_BAD_REQUEST,
	       "\"attach\" needs \"netns\"");
	expect("{\"version\":1,\"cmd\":\"attach\",\"vip\":\"198.19.1.10\"}", CTL_ERR_BAD_REQUEST,
	       "\"attach\" needs \"netns\"");
	expect("{\"version\":1,\"cmd\":\"detach\"}", CTL_ERR_BAD_REQUEST,
	       "\"detach\" needs \"vip\"");
}

static void test_bad_version(void **state)
{
	expect("{\"version\":2,\"cmd\":\"status\"}", CTL_ERR_VERSION, "version 2");
	expect("{\"version\":0,\"cmd\":\"status\"}", CTL_ERR_VERSION, "version 0");
	expect("{\"version\":-1,\"cmd\":\"status\"}", CTL_ERR_VERSION, "version -1");
	/* a newer client's unknown members do not hide the version mismatch */
	expect("{\"version\":2,\"cmd\":\"migrate\",\"to\":\"n2\"}", CTL_ERR_VERSION,
	       "not supported");
}

static void test_unknown_command(void **state)
{
	expect("{\"version\":1,\"cmd\":\"atach\"}", CTL_ERR_UNKNOWN_CMD,
	       "unknown command \"atach\"");
	expect("{\"version\":1,\"cmd\":\"\"}", CTL_ERR_UNKNOWN_CMD, "unknown command \"\"");
	expect("{\"version\":1,\"cmd\":\"STATUS\"}", CTL_ERR_UNKNOWN_CMD, "\"STATUS\"");
	expect("{\"version\":1,\"cmd\":\"status \"}", CTL_ERR_UNKNOWN_CMD, "\"status \"");
}

static void test_unknown_member(void **state)
{
	expect("{\"version\":1,\"cmd\":\"status\",\"verbose\":true}", CTL_ERR_BAD_REQUEST,
	       "unknown member \"verbose\"");
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"j\",\"vpi\":\"198.19.1.10\"}",
	       CTL_ERR_BAD_REQUEST, "unknown member \"vpi\"");
	/* known members a command does not take are refused too */
	expect("{\"version\":1,\"cmd\":\"status\",\"vip\":\"198.19.1.10\"}", CTL_ERR_BAD_REQUEST,
	       "\"status\" takes no \"vip\"");
	expect("{\"version\":1,\"cmd\":\"detach\",\"vip\":\"198.19.1.10\",\"netns\":\"j\"}",
	       CTL_ERR_BAD_REQUEST, "\"detach\" takes no \"netns\"");
	expect("{\"version\":1,\"cmd\":\"detach\",\"vip\":\"198.19.1.10\",\"family\":4}",
	       CTL_ERR_BAD_REQUEST, "\"detach\" takes no \"family\"");
	/* ... before their value is looked at */
	expect("{\"version\":1,\"cmd\":\"routes\",\"vip\":\"198.19.1.300\"}", CTL_ERR_BAD_REQUEST,
	       "\"routes\" takes no \"vip\"");
}

static void test_duplicate_member(void **state)
{
	expect("{\"version\":1,\"cmd\":\"detach\",\"vip\":\"198.19.1.10\","
	       "\"vip\":\"198.19.1.11\"}", CTL_ERR_BAD_REQUEST, "duplicate member \"vip\"");
	expect("{\"version\":1,\"version\":1,\"cmd\":\"status\"}", CTL_ERR_BAD_REQUEST,
	       "duplicate member \"version\"");
	expect("{\"version\":1,\"cmd\":\"status\",\"cmd\":\"status\"}", CTL_ERR_BAD_REQUEST,
	       "duplicate");
}

static void test_bad_vip(void **state)
{
	struct ctl_request r;

	assert_int_equal(parse("{\"version\":1,\"cmd\":\"detach\",\"vip\":\"198.19.1.300\"}", &r),
			 CTL_ERR_BAD_VIP);
	assert_string_equal(why, "\"vip\": \"198.19.1.300\" is not an IPv4 or IPv6 address");
	expect("{\"version\":1,\"cmd\":\"detach\",\"vip\":\"\"}", CTL_ERR_BAD_VIP, "\"\"");
	expect("{\"version\":1,\"cmd\":\"detach\",\"vip\":\"198.19.1.0/24\"}", CTL_ERR_BAD_VIP,
	       "\"198.19.1.0/24\"");
	expect("{\"version\":1,\"cmd\":\"detach\",\"vip\":\"node1.example\"}", CTL_ERR_BAD_VIP,
	       "\"node1.example\"");
	expect("{\"version\":1,\"cmd\":\"detach\",\"vip\":\" 198.19.1.10\"}", CTL_ERR_BAD_VIP,
	       "\" 198.19.1.10\"");
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"j\",\"vip\":\"fd00:19::g\"}",
	       CTL_ERR_BAD_VIP, "\"fd00:19::g\"");
}

static void test_bad_family(void **state)
{
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"j\",\"family\":5}",
	       CTL_ERR_BAD_REQUEST, "\"family\": 5 is not 4 or 6");
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"j\",\"family\":0}",
	       CTL_ERR_BAD_REQUEST, "\"family\": 0 is not 4 or 6");
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"j\",\"family\":46}",
	       CTL_ERR_BAD_REQUEST, "46");
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"j\",\"family\":4,"
	       "\"vip\":\"198.19.1.10\"}", CTL_ERR_BAD_REQUEST, "exclude each other");
}

static void test_netns_bounds(void **state)
{
	static char line[PATH_MAX + 128], name[PATH_MAX + 1];
	struct ctl_request r;

	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"\"}", CTL_ERR_BAD_REQUEST,
	       "\"netns\" is empty");

	memset(name, 'n', PATH_MAX - 1);
	name[PATH_MAX - 1] = '\0';
	snprintf(line, sizeof(line), "{\"version\":1,\"cmd\":\"attach\",\"netns\":\"%s\"}", name);
	assert_int_equal(parse(line, &r), CTL_OK);
	assert_int_equal(strlen(r.netns), PATH_MAX - 1);

	name[PATH_MAX - 1] = 'n';
	name[PATH_MAX] = '\0';
	snprintf(line, sizeof(line), "{\"version\":1,\"cmd\":\"attach\",\"netns\":\"%s\"}", name);
	expect(line, CTL_ERR_BAD_REQUEST, "longer than");
	/* the message quotes the value, but not all 4 KB of it */
	assert_true(strlen(why) < 200);
}

/* A request padded with blanks to exactly n bytes, newline included. */
static char *padded(size_t n)
{
	static const char req[] = "{\"version\":1,\"cmd\":\"status\"}";
	char *line = malloc(n + 1);

	assert_non_null(line);
	memset(line, ' ', n);
	memcpy(line, req, strlen(req));
	line[n - 1] = '\n';
	line[n] = '\0';
	return line;
}

static void test_too_long(void **state)
{
	struct ctl_request r;
	char *line;

	line = padded(CTL_LINE_MAX);
	assert_int_equal(parse(line, &r), CTL_OK);
	assert_int_equal(r.cmd, CTL_CMD_STATUS);
	/* without its newline, the same line still counts one for it */
	assert_int_equal(ctlmsg_request_parse(line, CTL_LINE_MAX - 1, &r, why, sizeof(why)),
			 CTL_OK);
	free(line);

	line = padded(CTL_LINE_MAX + 1);
	expect(line, CTL_ERR_TOO_LONG, "longer than 65536");
	/* the same line without newline is still one byte too long */
	assert_int_equal(ctlmsg_request_parse(line, CTL_LINE_MAX, &r, why, sizeof(why)),
			 CTL_ERR_TOO_LONG);
	free(line);
}

static void test_message_quoting(void **state)
{
	static char line[1024], name[600];

	/* control characters in the value come out escaped, not raw */
	expect("{\"version\":1,\"cmd\":\"at\\nach\\u001b[2J\"}", CTL_ERR_UNKNOWN_CMD,
	       "\"at\\nach\\u001B[2J\"");
	assert_null(strchr(why, '\n'));
	assert_null(strchr(why, '\x1b'));

	/* long values are cut */
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(line, sizeof(line), "{\"version\":1,\"cmd\":\"%s\"}", name);
	expect(line, CTL_ERR_UNKNOWN_CMD, "...");
	assert_true(strlen(why) < 120);

	/* a why buffer too small for the message is filled, not overrun */
	{
		struct ctl_request r;
		char small[8];

		memset(small, 'z', sizeof(small));
		assert_int_equal(ctlmsg_request_parse("{\"version\":1,\"cmd\":\"atach\"}", 27, &r,
						      small, sizeof(small)), CTL_ERR_UNKNOWN_CMD);
		assert_int_equal(small[7], '\0');
		assert_int_equal(strlen(small), 7);
		/* and no buffer at all is allowed */
		assert_int_equal(ctlmsg_request_parse("{\"version\":1,\"cmd\":\"atach\"}", 27, &r,
						      NULL, 0), CTL_ERR_UNKNOWN_CMD);
	}
}

static void test_reply_ok_round_trip(void **state)
{
	json_t *res, *got = NULL;
	char *line, *msg = NULL;

	res = json_pack("[{s:s, s:s, s:I, s:b}]", "vip", "198.19.1.10", "node", "n1", "epoch",
			(json_int_t)3, "local", 1);
	assert_non_null(res);
	json_incref(res);
	line = ctlmsg_reply_ok(res);
	assert_non_null(line);
	assert_int_equal(line[strlen(line) - 1], '\n');
	assert_null(memchr(line, '\n', strlen(line) - 1));
	assert_null(strstr(line, ": "));
	assert_int_equal(ctlmsg_reply_parse(line, strlen(line), &got, &msg), CTL_OK);
	assert_null(msg);
	assert_non_null(got);
	assert_true(json_equal(got, res));
	json_decref(got);
	json_decref(res);
	free(line);

	/* NULL result: null on the wire, a null reference back */
	line = ctlmsg_reply_ok(NULL);
	assert_non_null(line);
	assert_string_equal(line, "{\"version\":1,\"ok\":true,\"result\":null}\n");
	got = NULL;
	assert_int_equal(ctlmsg_reply_parse(line, strlen(line), &got, &msg), CTL_OK);
	assert_true(json_is_null(got));
	json_decref(got);
	free(line);

	/* the member order on the wire is fixed: version first */
	line = ctlmsg_reply_ok(json_pack("{s:i}", "mtu", 1500));
	assert_non_null(line);
	assert_string_equal(line, "{\"version\":1,\"ok\":true,\"result\":{\"mtu\":1500}}\n");
	free(line);
}

static void test_reply_err_round_trip(void **state)
{
	json_t *got;
	char *line, *msg;
	int e;

	for (e = 1; e < CTL_ERR_MAX; e++) {
		line = ctlmsg_reply_err((enum ctl_err)e, "error %d: %s \"quoted\"\tand tab", e,
					ctlmsg_err_name((enum ctl_err)e));
		assert_non_null(line);
		assert_int_equal(line[strlen(line) - 1], '\n');
		assert_null(memchr(line, '\n', strlen(line) - 1));
		got = (json_t *)1;
		msg = NULL;
		assert_int_equal(ctlmsg_reply_parse(line, strlen(line), &got, &msg), e);
		assert_null(got);
		assert_non_null(msg);
		assert_non_null(strstr(msg, ctlmsg_err_name((enum ctl_err)e)));
		assert_non_null(strstr(msg, "\"quoted\"\tand tab"));
		free(msg);
		free(line);
	}

	line = ctlmsg_reply_err(CTL_ERR_VIP_IN_USE, "%s is already hosted by %s", "198.19.1.10",
				"n1");
	assert_string_equal(line, "{\"version\":1,\"ok\":false,\"error\":\"VIP_IN_USE\","
				  "\"message\":\"198.19.1.10 is already hosted by n1\"}\n");
	free(line);

	/* bytes that are not UTF-8 cannot go on the wire as they are */
	line = ctlmsg_reply_err(CTL_ERR_SYSTEM, "open /run/netns/j\xff: failed");
	assert_non_null(line);
	assert_int_equal(ctlmsg_reply_parse(line, strlen(line), &got, &msg), CTL_ERR_SYSTEM);
	assert_string_equal(msg, "open /run/netns/j?: failed");
	free(msg);
	free(line);
}

static void expect_bad_reply(const char *line, enum ctl_err e, const char *needle)
{
	json_t *got = (json_t *)1;
	char *msg = NULL;
	enum ctl_err r = ctlmsg_reply_parse(line, strlen(line), &got, &msg);

	if (r != e || !msg || !strstr(msg, needle))
		print_error("reply %s: got %s \"%s\"\n", line, ctlmsg_err_name(r),
			    msg ? msg : "(null)");
	assert_int_equal(r, e);
	assert_null(got);
	assert_non_null(msg);
	assert_non_null(strstr(msg, needle));
	free(msg);
}

static void test_reply_parse_garbage(void **state)
{
	expect_bad_reply("", CTL_ERR_BAD_JSON, "empty");
	expect_bad_reply("\n", CTL_ERR_BAD_JSON, "empty");
	expect_bad_reply("garbage\n", CTL_ERR_BAD_JSON, "not valid JSON");
	expect_bad_reply("{\"version\":1,\"ok\":true,\"result\":[", CTL_ERR_BAD_JSON,
			 "not valid JSON");
	expect_bad_reply("[1,2]\n", CTL_ERR_BAD_JSON, "not a JSON object");
	expect_bad_reply("true\n", CTL_ERR_BAD_JSON, "not a JSON object");
	expect_bad_reply("{}\n", CTL_ERR_BAD_JSON, "\"version\"");
	expect_bad_reply("{\"version\":\"1\",\"ok\":true,\"result\":null}", CTL_ERR_BAD_JSON,
			 "\"version\"");
	expect_bad_reply("{\"version\":1,\"result\":null}", CTL_ERR_BAD_JSON, "\"ok\"");
	expect_bad_reply("{\"version\":1,\"ok\":1,\"result\":null}", CTL_ERR_BAD_JSON, "\"ok\"");
	expect_bad_reply("{\"version\":1,\"ok\":true}", CTL_ERR_BAD_JSON, "without \"result\"");
	expect_bad_reply("{\"version\":1,\"ok\":true,\"result\":1,\"x\":2}", CTL_ERR_BAD_JSON,
			 "unknown member \"x\"");
	expect_bad_reply("{\"version\":1,\"ok\":true,\"result\":1,\"result\":2}",
			 CTL_ERR_BAD_JSON, "duplicate");
	expect_bad_reply("{\"version\":1,\"ok\":false,\"error\":\"VIP_IN_USE\"}", CTL_ERR_BAD_JSON,
			 "\"message\"");
	expect_bad_reply("{\"version\":1,\"ok\":false,\"message\":\"m\"}", CTL_ERR_BAD_JSON,
			 "\"error\"");
	expect_bad_reply("{\"version\":1,\"ok\":false,\"error\":3,\"message\":\"m\"}",
			 CTL_ERR_BAD_JSON, "\"error\"");
	expect_bad_reply("{\"version\":1,\"ok\":false,\"error\":\"E\",\"message\":\"m\",\"x\":1}",
			 CTL_ERR_BAD_JSON, "unknown member \"x\"");
	/* an error name we do not know, or OK in an error: keep the daemon's message */
	expect_bad_reply("{\"version\":1,\"ok\":false,\"error\":\"NO_SUCH_THING\","
			 "\"message\":\"the words\"}", CTL_ERR_BAD_JSON,
			 "\"NO_SUCH_THING\": the words");
	expect_bad_reply("{\"version\":1,\"ok\":false,\"error\":\"OK\",\"message\":\"m\"}",
			 CTL_ERR_BAD_JSON, "unknown error \"OK\"");
	expect_bad_reply("{\"version\":2,\"ok\":true,\"result\":null}", CTL_ERR_VERSION,
			 "version 2");
}

static void test_err_table(void **state)
{
	int e, f;

	for (e = 0; e < CTL_ERR_MAX; e++) {
		const char *name = ctlmsg_err_name((enum ctl_err)e);
		const char *text = ctlmsg_strerror((enum ctl_err)e);

		assert_non_null(name);
		assert_non_null(text);
		assert_true(strlen(text) > 0);
		assert_int_equal(ctlmsg_err_lookup(name), e);
		for (f = 0; f < e; f++) {
			assert_string_not_equal(name, ctlmsg_err_name((enum ctl_err)f));
			assert_string_not_equal(text, ctlmsg_strerror((enum ctl_err)f));
		}
	}
	assert_string_equal(ctlmsg_err_name(CTL_ERR_VIP_IN_USE), "VIP_IN_USE");
	assert_string_equal(ctlmsg_err_name(CTL_OK), "OK");
	assert_int_equal(ctlmsg_err_lookup("vip_in_use"), CTL_ERR_MAX);
	assert_int_equal(ctlmsg_err_lookup(""), CTL_ERR_MAX);
	assert_int_equal(ctlmsg_err_lookup("UNKNOWN"), CTL_ERR_MAX);
	assert_int_equal(ctlmsg_err_lookup(ctlmsg_err_name(CTL_ERR_MAX)), CTL_ERR_MAX);
	assert_non_null(ctlmsg_strerror(CTL_ERR_MAX));
	assert_non_null(ctlmsg_strerror((enum ctl_err)-1));
}

static void test_cmd_table(void **state)
{
	int c;

	for (c = 0; c < CTL_CMD_MAX; c++) {
		assert_non_null(ctlmsg_cmd_name((enum ctl_cmd)c));
		assert_int_equal(ctlmsg_cmd_lookup(ctlmsg_cmd_name((enum ctl_cmd)c)), c);
	}
	assert_string_equal(ctlmsg_cmd_name(CTL_CMD_ATTACH), "attach");
	assert_null(ctlmsg_cmd_name(CTL_CMD_MAX));
	assert_int_equal(ctlmsg_cmd_lookup("atach"), -1);
	assert_int_equal(ctlmsg_cmd_lookup(""), -1);
}

/* Encodes req and compares the line with want. */
static void encodes_as(const struct ctl_request *req, const char *want)
{
	char *line = ctlmsg_request_encode(req);

	assert_non_null(line);
	assert_string_equal(line, want);
	free(line);
}

static void test_migration_round_trip(void **state)
{
	struct ctl_request r;
	int c;

	for (c = CTL_CMD_SUSPEND; c <= CTL_CMD_ACTIVATE; c++) {
		memset(&r, 0, sizeof(r));
		r.cmd = (enum ctl_cmd)c;
		r.has_vip = true;
		vip_of("fd00:19:1::a", &r.vip);
		round_trip(&r);
	}
	memset(&r, 0, sizeof(r));
	r.cmd = CTL_CMD_SUSPEND;
	r.has_vip = true;
	vip_of("198.19.1.10", &r.vip);
	encodes_as(&r, "{\"version\":1,\"cmd\":\"suspend\",\"vip\":\"198.19.1.10\"}\n");

	r.cmd = CTL_CMD_MIGRATE;
	strcpy(r.to, "node-2.rack_7");
	round_trip(&r);
	encodes_as(&r, "{\"version\":1,\"cmd\":\"migrate\",\"vip\":\"198.19.1.10\","
		       "\"to\":\"node-2.rack_7\"}\n");
	/* the longest node name there is */
	memset(r.to, 'n', 31);
	r.to[31] = '\0';
	round_trip(&r);

	memset(&r, 0, sizeof(r));
	r.cmd = CTL_CMD_ATTACH;
	strcpy(r.netns, "job1");
	r.standby = true;
	round_trip(&r);
	r.has_vip = true;
	vip_of("198.19.1.10", &r.vip);
	round_trip(&r);
	encodes_as(&r, "{\"version\":1,\"cmd\":\"attach\",\"netns\":\"job1\","
		       "\"vip\":\"198.19.1.10\",\"standby\":true}\n");
	/* false is the default and is not written */
	r.standby = false;
	encodes_as(&r, "{\"version\":1,\"cmd\":\"attach\",\"netns\":\"job1\","
		       "\"vip\":\"198.19.1.10\"}\n");
}

static void test_migration_parse(void **state)
{
	struct ctl_request r;

	assert_int_equal(parse("{\"version\":1,\"cmd\":\"migrate\",\"to\":\"n2\","
			       "\"vip\":\"198.19.1.10\"}", &r), CTL_OK);
	assert_int_equal(r.cmd, CTL_CMD_MIGRATE);
	assert_string_equal(r.to, "n2");
	assert_true(r.has_vip);

	assert_int_equal(parse("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"j\","
			       "\"standby\":false}", &r), CTL_OK);
	assert_false(r.standby);
	assert_int_equal(parse("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"j\","
			       "\"standby\":true,\"family\":6}", &r), CTL_OK);
	assert_true(r.standby);
	assert_int_equal(r.family, 6);

	/* missing members */
	expect("{\"version\":1,\"cmd\":\"suspend\"}", CTL_ERR_BAD_REQUEST,
	       "\"suspend\" needs \"vip\" or \"netns\"");
	expect("{\"version\":1,\"cmd\":\"resume\"}", CTL_ERR_BAD_REQUEST,
	       "\"resume\" needs \"vip\" or \"netns\"");
	expect("{\"version\":1,\"cmd\":\"activate\"}", CTL_ERR_BAD_REQUEST,
	       "\"activate\" needs \"vip\" or \"netns\"");
	expect("{\"version\":1,\"cmd\":\"migrate\",\"to\":\"n2\"}", CTL_ERR_BAD_REQUEST,
	       "\"migrate\" needs \"vip\" or \"netns\"");
	expect("{\"version\":1,\"cmd\":\"migrate\",\"vip\":\"198.19.1.10\"}", CTL_ERR_BAD_REQUEST,
	       "\"migrate\" needs \"to\"");

	/* wrong types */
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"j\",\"standby\":1}",
	       CTL_ERR_BAD_REQUEST, "\"standby\" must be a boolean");
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"j\",\"standby\":\"true\"}",
	       CTL_ERR_BAD_REQUEST, "\"standby\" must be a boolean");
	expect("{\"version\":1,\"cmd\":\"migrate\",\"vip\":\"198.19.1.10\",\"to\":2}",
	       CTL_ERR_BAD_REQUEST, "\"to\" must be a string");
	expect("{\"version\":1,\"cmd\":\"suspend\",\"vip\":true}", CTL_ERR_BAD_REQUEST,
	       "\"vip\" must be a string");
	expect("{\"version\":1,\"cmd\":\"activate\",\"vip\":\"198.19.1.256\"}", CTL_ERR_BAD_VIP,
	       "\"198.19.1.256\"");

	/* node names the peer protocol would refuse */
	expect("{\"version\":1,\"cmd\":\"migrate\",\"vip\":\"198.19.1.10\",\"to\":\"\"}",
	       CTL_ERR_BAD_REQUEST, "\"to\": \"\" is not a node name");
	expect("{\"version\":1,\"cmd\":\"migrate\",\"vip\":\"198.19.1.10\",\"to\":\"n 2\"}",
	       CTL_ERR_BAD_REQUEST, "is not a node name");
	expect("{\"version\":1,\"cmd\":\"migrate\",\"vip\":\"198.19.1.10\",\"to\":\"n2/x\"}",
	       CTL_ERR_BAD_REQUEST, "is not a node name");
	expect("{\"version\":1,\"cmd\":\"migrate\",\"vip\":\"198.19.1.10\",\"to\":\"n\\u00e9\"}",
	       CTL_ERR_BAD_REQUEST, "is not a node name");
	expect("{\"version\":1,\"cmd\":\"migrate\",\"vip\":\"198.19.1.10\",\"to\":\"n\\u0000\"}",
	       CTL_ERR_BAD_JSON, "not valid JSON");
	expect("{\"version\":1,\"cmd\":\"migrate\",\"vip\":\"198.19.1.10\","
	       "\"to\":\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\"}", CTL_ERR_BAD_REQUEST,
	       "is not a node name");

	/* members in the wrong command */
	expect("{\"version\":1,\"cmd\":\"detach\",\"vip\":\"198.19.1.10\",\"standby\":true}",
	       CTL_ERR_BAD_REQUEST, "\"detach\" takes no \"standby\"");
	expect("{\"version\":1,\"cmd\":\"suspend\",\"vip\":\"198.19.1.10\",\"to\":\"n2\"}",
	       CTL_ERR_BAD_REQUEST, "\"suspend\" takes no \"to\"");
	expect("{\"version\":1,\"cmd\":\"activate\",\"vip\":\"198.19.1.10\",\"family\":4}",
	       CTL_ERR_BAD_REQUEST, "\"activate\" takes no \"family\"");
	/* a move names its job by a VIP or by its namespace */
	assert_int_equal(parse("{\"version\":1,\"cmd\":\"activate\",\"netns\":\"j\"}", &r),
			 CTL_OK);
	assert_string_equal(r.netns, "j");
	assert_false(r.has_vip);
	expect("{\"version\":1,\"cmd\":\"migrate\",\"vip\":\"198.19.1.10\",\"to\":\"n2\","
	       "\"standby\":true}", CTL_ERR_BAD_REQUEST, "\"migrate\" takes no \"standby\"");
}

static void test_capture_round_trip(void **state)
{
	struct ctl_request r = { .cmd = CTL_CMD_CAPTURE };

	/* everything at its default: nothing but the command on the wire */
	round_trip(&r);
	encodes_as(&r, "{\"version\":1,\"cmd\":\"capture\"}\n");

	r.scope = CTL_SCOPE_VIP;
	r.has_vip = true;
	vip_of("198.19.1.10", &r.vip);
	r.cluster = true;
	strcpy(r.filter, "tcp port 80 and not host 198.19.2.1");
	r.count = 100;
	r.duration_ms = 2500;
	r.snaplen = 96;
	round_trip(&r);
	encodes_as(&r, "{\"version\":1,\"cmd\":\"capture\",\"vip\":\"198.19.1.10\","
		       "\"scope\":\"vip\",\"cluster\":true,\"filter\":\"tcp port 80 and not host "
		       "198.19.2.1\",\"count\":100,\"duration_ms\":2500,\"snaplen\":96}\n");

	memset(&r, 0, sizeof(r));
	r.cmd = CTL_CMD_CAPTURE;
	r.scope = CTL_SCOPE_PEER;
	strcpy(r.peer, "n3");
	r.snaplen = CTL_SNAPLEN_MAX;
	r.count = LONG_MAX;
	round_trip(&r);
	encodes_as(&r, "{\"version\":1,\"cmd\":\"capture\",\"scope\":\"peer\",\"peer\":\"n3\","
		       "\"count\":9223372036854775807,\"snaplen\":262144}\n");

	/* the longest filter there is */
	memset(&r, 0, sizeof(r));
	r.cmd = CTL_CMD_CAPTURE;
	memset(r.filter, 'a', sizeof(r.filter) - 1);
	round_trip(&r);

	/* a scope outside the enumeration is not encoded as anything */
	memset(&r, 0, sizeof(r));
	r.cmd = CTL_CMD_CAPTURE;
	r.scope = 7;
	assert_null(ctlmsg_request_encode(&r));
}

static void test_capture_parse(void **state)
{
	static char line[2048], filter[1100];
	struct ctl_request r;

	/* explicit defaults are fine */
	assert_int_equal(parse("{\"version\":1,\"cmd\":\"capture\",\"scope\":\"all\","
			       "\"filter\":\"\",\"count\":0,\"duration_ms\":0,\"snaplen\":0}", &r),
			 CTL_OK);
	assert_int_equal(r.scope, CTL_SCOPE_ALL);
	assert_int_equal(r.count, 0);
	assert_int_equal(r.snaplen, 0);
	assert_int_equal(parse("{\"version\":1,\"cmd\":\"capture\",\"scope\":\"vip\","
			       "\"vip\":\"fd00:19::5\",\"cluster\":false,\"snaplen\":64}", &r),
			 CTL_OK);
	assert_int_equal(r.scope, CTL_SCOPE_VIP);
	assert_true(r.has_vip);
	assert_false(r.cluster);
	assert_int_equal(r.snaplen, 64);

	/* what each scope needs, and what it excludes */
	expect("{\"version\":1,\"cmd\":\"capture\",\"scope\":\"vip\"}", CTL_ERR_BAD_REQUEST,
	       "scope \"vip\" needs \"vip\"");
	expect("{\"version\":1,\"cmd\":\"capture\",\"scope\":\"peer\"}", CTL_ERR_BAD_REQUEST,
	       "scope \"peer\" needs \"peer\"");
	expect("{\"version\":1,\"cmd\":\"capture\",\"vip\":\"198.19.1.10\"}", CTL_ERR_BAD_REQUEST,
	       "\"vip\" needs scope \"vip\", not \"all\"");
	expect("{\"version\":1,\"cmd\":\"capture\",\"scope\":\"peer\",\"peer\":\"n2\","
	       "\"vip\":\"198.19.1.10\"}", CTL_ERR_BAD_REQUEST, "\"vip\" needs scope \"vip\"");
	expect("{\"version\":1,\"cmd\":\"capture\",\"peer\":\"n2\"}", CTL_ERR_BAD_REQUEST,
	       "\"peer\" needs scope \"peer\", not \"all\"");
	expect("{\"version\":1,\"cmd\":\"capture\",\"scope\":\"vip\",\"vip\":\"198.19.1.10\","
	       "\"peer\":\"n2\"}", CTL_ERR_BAD_REQUEST, "\"peer\" needs scope \"peer\"");
	expect("{\"version\":1,\"cmd\":\"capture\",\"cluster\":true}", CTL_ERR_BAD_REQUEST,
	       "\"cluster\" needs scope \"vip\", not \"all\"");
	expect("{\"version\":1,\"cmd\":\"capture\",\"scope\":\"peer\",\"peer\":\"n2\","
	       "\"cluster\":false}", CTL_ERR_BAD_REQUEST, "\"cluster\" needs scope \"vip\"");
	expect("{\"version\":1,\"cmd\":\"capture\",\"scope\":\"everything\"}", CTL_ERR_BAD_REQUEST,
	       "\"scope\": \"everything\" is not");
	expect("{\"version\":1,\"cmd\":\"capture\",\"scope\":\"VIP\",\"vip\":\"198.19.1.10\"}",
	       CTL_ERR_BAD_REQUEST, "\"scope\": \"VIP\" is not");
	expect("{\"version\":1,\"cmd\":\"capture\",\"scope\":\"peer\",\"peer\":\"n 2\"}",
	       CTL_ERR_BAD_REQUEST, "\"peer\": \"n 2\" is not a node name");

	/* wrong types */
	expect("{\"version\":1,\"cmd\":\"capture\",\"scope\":1}", CTL_ERR_BAD_REQUEST,
	       "\"scope\" must be a string");
	expect("{\"version\":1,\"cmd\":\"capture\",\"scope\":\"peer\",\"peer\":[\"n2\"]}",
	       CTL_ERR_BAD_REQUEST, "\"peer\" must be a string");
	expect("{\"version\":1,\"cmd\":\"capture\",\"scope\":\"vip\",\"vip\":\"198.19.1.10\","
	       "\"cluster\":\"yes\"}", CTL_ERR_BAD_REQUEST, "\"cluster\" must be a boolean");
	expect("{\"version\":1,\"cmd\":\"capture\",\"filter\":[\"tcp\"]}", CTL_ERR_BAD_REQUEST,
	       "\"filter\" must be a string");
	expect("{\"version\":1,\"cmd\":\"capture\",\"count\":\"10\"}", CTL_ERR_BAD_REQUEST,
	       "\"count\" must be an integer");
	expect("{\"version\":1,\"cmd\":\"capture\",\"count\":1.5}", CTL_ERR_BAD_REQUEST,
	       "\"count\" must be an integer");
	expect("{\"version\":1,\"cmd\":\"capture\",\"duration_ms\":null}", CTL_ERR_BAD_REQUEST,
	       "\"duration_ms\" must be an integer");
	expect("{\"version\":1,\"cmd\":\"capture\",\"snaplen\":true}", CTL_ERR_BAD_REQUEST,
	       "\"snaplen\" must be an integer");

	/* out of range */
	expect("{\"version\":1,\"cmd\":\"capture\",\"count\":-1}", CTL_ERR_BAD_REQUEST,
	       "\"count\": -1 is not between 0 and");
	expect("{\"version\":1,\"cmd\":\"capture\",\"duration_ms\":-1000}", CTL_ERR_BAD_REQUEST,
	       "\"duration_ms\": -1000 is not between 0 and");
	expect("{\"version\":1,\"cmd\":\"capture\",\"snaplen\":63}", CTL_ERR_BAD_REQUEST,
	       "\"snaplen\": 63 is not 0 nor between 64 and 262144");
	expect("{\"version\":1,\"cmd\":\"capture\",\"snaplen\":262145}", CTL_ERR_BAD_REQUEST,
	       "\"snaplen\": 262145");
	expect("{\"version\":1,\"cmd\":\"capture\",\"snaplen\":-64}", CTL_ERR_BAD_REQUEST,
	       "\"snaplen\": -64");
	expect("{\"version\":1,\"cmd\":\"capture\",\"filter\":\"tcp\\u0000 or udp\"}",
	       CTL_ERR_BAD_JSON, "not valid JSON");

	memset(filter, 'f', 1023);
	filter[1023] = '\0';
	snprintf(line, sizeof(line), "{\"version\":1,\"cmd\":\"capture\",\"filter\":\"%s\"}",
		 filter);
	assert_int_equal(parse(line, &r), CTL_OK);
	assert_int_equal(strlen(r.filter), 1023);
	filter[1023] = 'f';
	filter[1024] = '\0';
	snprintf(line, sizeof(line), "{\"version\":1,\"cmd\":\"capture\",\"filter\":\"%s\"}",
		 filter);
	expect(line, CTL_ERR_BAD_REQUEST, "\"filter\" is longer than 1023 bytes");

	/* members of other commands */
	expect("{\"version\":1,\"cmd\":\"capture\",\"netns\":\"j\"}", CTL_ERR_BAD_REQUEST,
	       "\"capture\" takes no \"netns\"");
	expect("{\"version\":1,\"cmd\":\"capture\",\"follow\":true}", CTL_ERR_BAD_REQUEST,
	       "\"capture\" takes no \"follow\"");
	expect("{\"version\":1,\"cmd\":\"attach\",\"netns\":\"j\",\"count\":1}",
	       CTL_ERR_BAD_REQUEST, "\"attach\" takes no \"count\"");
	expect("{\"version\":1,\"cmd\":\"status\",\"scope\":\"all\"}", CTL_ERR_BAD_REQUEST,
	       "\"status\" takes no \"scope\"");
}

static void test_events_requests(void **state)
{
	struct ctl_request r = { .cmd = CTL_CMD_EVENTS };

	round_trip(&r);
	encodes_as(&r, "{\"version\":1,\"cmd\":\"events\"}\n");
	r.follow = true;
	round_trip(&r);
	encodes_as(&r, "{\"version\":1,\"cmd\":\"events\",\"follow\":true}\n");

	assert_int_equal(parse("{\"version\":1,\"cmd\":\"events\",\"follow\":false}", &r),
			 CTL_OK);
	assert_false(r.follow);
	assert_int_equal(parse("{\"follow\":true,\"version\":1,\"cmd\":\"events\"}", &r),
			 CTL_OK);
	assert_true(r.follow);
	assert_int_equal(r.cmd, CTL_CMD_EVENTS);

	expect("{\"version\":1,\"cmd\":\"events\",\"follow\":1}", CTL_ERR_BAD_REQUEST,
	       "\"follow\" must be a boolean");
	expect("{\"version\":1,\"cmd\":\"events\",\"follow\":\"true\"}", CTL_ERR_BAD_REQUEST,
	       "\"follow\" must be a boolean");
	expect("{\"version\":1,\"cmd\":\"events\",\"vip\":\"198.19.1.10\"}", CTL_ERR_BAD_REQUEST,
	       "\"events\" takes no \"vip\"");
	expect("{\"version\":1,\"cmd\":\"events\",\"count\":5}", CTL_ERR_BAD_REQUEST,
	       "\"events\" takes no \"count\"");
	expect("{\"version\":1,\"cmd\":\"stats\",\"follow\":true}", CTL_ERR_BAD_REQUEST,
	       "\"stats\" takes no \"follow\"");
	expect("{\"version\":1,\"cmd\":\"events\",\"follow\":true,\"follow\":false}",
	       CTL_ERR_BAD_REQUEST, "duplicate member \"follow\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_request_fields),
		cmocka_unit_test(test_request_encode_version),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_bad_json_nul_byte),
		cmocka_unit_test(test_nul_in_strings),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_missing_members),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_unknown_command),
		cmocka_unit_test(test_unknown_member),
		cmocka_unit_test(test_duplicate_member),
		cmocka_unit_test(test_bad_vip),
		cmocka_unit_test(test_bad_family),
		cmocka_unit_test(test_netns_bounds),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_message_quoting),
		cmocka_unit_test(test_reply_ok_round_trip),
		cmocka_unit_test(test_reply_err_round_trip),
		cmocka_unit_test(test_reply_parse_garbage),
		cmocka_unit_test(test_err_table),
		cmocka_unit_test(test_cmd_table),
		cmocka_unit_test(test_migration_round_trip),
		cmocka_unit_test(test_migration_parse),
		cmocka_unit_test(test_capture_round_trip),
		cmocka_unit_test(test_capture_parse),
		cmocka_unit_test(test_events_requests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
