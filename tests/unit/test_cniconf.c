/* tunvnet-cni's configuration, environment and result JSON (cni/cniconf.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "cni/cniconf.h"

/* A fake environment: NAME=VALUE strings, NULL-terminated. */
static const char *const *env_now;

static char *fake_getenv(const char *name)
{
	size_t n = strlen(name);

	for (const char *const *e = env_now; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return (char *)*e + n + 1;
	return NULL;
}

static const char *const add_env[] = {
	"CNI_COMMAND=ADD", "CNI_CONTAINERID=c0ffee.1", "CNI_NETNS=/run/netns/cni-1",
	"CNI_IFNAME=eth0", "CNI_PATH=/opt/cni/bin", NULL,
};

static enum cni_code parse(const char *const *env, const char *conf, struct cniconf *c,
			   char *msg)
{
	env_now = env;
	return cniconf_parse(c, fake_getenv, conf, strlen(conf), msg, 256);
}

#define BASE "\"cniVersion\": \"1.0.0\", \"name\": \"tunvnet\", \"type\": \"tunvnet-cni\""

static void test_good(void **state)
{
	struct cniconf c;
	char msg[256], b[VIP_STRLEN];

	assert_int_equal(parse(add_env, "{" BASE "}", &c, msg), CNI_OK);
	assert_int_equal(c.cmd, CNI_CMD_ADD);
	assert_string_equal(c.socket, CNICONF_DEFAULT_SOCKET);
	assert_string_equal(c.data_dir, CNICONF_DEFAULT_DATADIR);
	assert_string_equal(c.netns, "/run/netns/cni-1");
	assert_string_equal(c.ifname, "eth0");
	assert_int_equal(c.nvips, 0);
	assert_int_equal(c.nfamilies, 0);
	cniconf_free(&c);

	assert_int_equal(parse(add_env, "{" BASE ", \"socket\": \"/run/tunvnet/n1.sock\", "
			       "\"dataDir\": \"/tmp/x\", \"ipam\": {\"type\": \"static\", "
			       "\"addresses\": [{\"address\": \"198.19.1.20/24\"}, "
			       "{\"address\": \"fd00:19:1::20\"}]}, \"dns\": "
			       "{\"nameservers\": [\"198.19.1.53\"]}}", &c, msg), CNI_OK);
	assert_string_equal(c.socket, "/run/tunvnet/n1.sock");
	assert_int_equal(c.nvips, 2);
	assert_string_equal(vip_fmt(&c.vips[0], b), "198.19.1.20");
	assert_string_equal(vip_fmt(&c.vips[1], b), "fd00:19:1::20");
	assert_non_null(c.dns);
	cniconf_free(&c);

	assert_int_equal(parse(add_env, "{" BASE ", \"ipam\": {\"type\": \"tunvnet\", "
			       "\"families\": [6, 4]}}", &c, msg), CNI_OK);
	assert_int_equal(c.nfamilies, 2);
	assert_int_equal(c.families[0], 6);
	cniconf_free(&c);
}

static void test_args_override(void **state)
{
	static const char *const env[] = {
		"CNI_COMMAND=ADD", "CNI_CONTAINERID=c1", "CNI_NETNS=/proc/42/ns/net",
		"CNI_IFNAME=tv0", "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=x;IP=198.19.1.7,fd00:19:1::7",
		NULL,
	};
	struct cniconf c;
	char msg[256], b[VIP_STRLEN];

	/* CNI_ARGS IP wins over ipam; runtimeConfig.ips over both */
	assert_int_equal(parse(env, "{" BASE ", \"ipam\": {\"type\": \"static\", \"addresses\": "
			       "[{\"address\": \"198.19.1.20\"}]}}", &c, msg), CNI_OK);
	assert_int_equal(c.nvips, 2);
	assert_string_equal(vip_fmt(&c.vips[0], b), "198.19.1.7");
	cniconf_free(&c);
	assert_int_equal(parse(env, "{" BASE ", \"runtimeConfig\": {\"ips\": "
			       "[\"198.19.1.9/32\"]}}", &c, msg), CNI_OK);
	assert_int_equal(c.nvips, 1);
	assert_string_equal(vip_fmt(&c.vips[0], b), "198.19.1.9");
	cniconf_free(&c);
}

static void test_bad(void **state)
{
	static const char *const no_netns[] = {
		"CNI_COMMAND=ADD", "CNI_CONTAINERID=c1", "CNI_IFNAME=eth0", NULL,
	};
	static const char *const bad_if[] = {
		"CNI_COMMAND=ADD", "CNI_CONTAINERID=c1", "CNI_NETNS=/x", "CNI_IFNAME=a/b", NULL,
	};
	static const char *const bad_cmd[] = { "CNI_COMMAND=FROB", NULL };
	static const char *const check_env[] = {
		"CNI_COMMAND=CHECK", "CNI_CONTAINERID=c1", "CNI_NETNS=/x", "CNI_IFNAME=eth0", NULL,
	};
	static const struct {
		const char *const *env;
		const char *conf;
		enum cni_code code;
		const char *in_msg;
	} cases[] = {
		{ add_env, "{", CNI_ERR_DECODE, "stdin" },
		{ add_env, "[1]", CNI_ERR_DECODE, "object" },
		{ add_env, "{\"name\": \"n\", \"type\": \"t\"}", CNI_ERR_CONFIG, "cniVersion" },
		{ add_env, "{\"cniVersion\": \"9.9.9\", \"name\": \"n\", \"type\": \"t\"}",
		  CNI_ERR_VERSION, "9.9.9" },
		{ add_env, "{\"cniVersion\": \"1.0.0\", \"name\": \"-n\", \"type\": \"t\"}",
		  CNI_ERR_CONFIG, "name" },
		{ add_env, "{\"cniVersion\": \"1.0.0\", \"name\": \"n\"}", CNI_ERR_CONFIG, "type" },
		{ add_env, "{" BASE ", \"socket\": \"rel.sock\"}", CNI_ERR_CONFIG, "socket" },
		{ add_env, "{" BASE ", \"ipam\": {\"type\": \"host-local\"}}", CNI_ERR_FIELD,
		  "host-local" },
		{ add_env, "{" BASE ", \"ipam\": {\"type\": \"static\", \"addresses\": "
		  "[{\"address\": \"10.1.1.1/24\", \"gateway\": \"10.1.1.254\"}]}}", CNI_ERR_FIELD,
		  "gateway" },
		{ add_env, "{" BASE ", \"ipam\": {\"type\": \"static\", \"addresses\": "
		  "[{\"address\": \"198.19.1.999\"}]}}", CNI_ERR_CONFIG, "198.19.1.999" },
		{ add_env, "{" BASE ", \"ipam\": {\"type\": \"tunvnet\", \"families\": [4, 4]}}",
		  CNI_ERR_CONFIG, "families" },
		{ add_env, "{" BASE ", \"ipam\": {\"type\": \"tunvnet\", \"subnet\": \"x\"}}",
		  CNI_ERR_FIELD, "subnet" },
		{ no_netns, "{" BASE "}", CNI_ERR_ENV, "CNI_NETNS" },
		{ bad_if, "{" BASE "}", CNI_ERR_ENV, "CNI_IFNAME" },
		{ bad_cmd, "{" BASE "}", CNI_ERR_ENV, "CNI_COMMAND" },
		{ check_env, "{" BASE "}", CNI_ERR_CONFIG, "prevResult" },
		{ check_env, "{\"cniVersion\": \"0.3.1\", \"name\": \"n\", \"type\": \"t\"}",
		  CNI_ERR_VERSION, "CHECK" },
	};
	struct cniconf c;
	char msg[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msg[0] = '\0';
		assert_int_equal(parse(cases[i].env, cases[i].conf, &c, msg), cases[i].code);
		if (!strstr(msg, cases[i].in_msg))
			fail_msg("case %zu: \"%s\" does not name %s", i, msg, cases[i].in_msg);
	}
}

static void test_del_minimal(void **state)
{
	static const char *const env[] = {
		"CNI_COMMAND=DEL", "CNI_CONTAINERID=c1", "CNI_IFNAME=eth0", NULL,
	};
	struct cniconf c;
	char msg[256];

	/* DEL without CNI_NETNS is allowed; a prevResult is kept */
	assert_int_equal(parse(env, "{" BASE ", \"prevResult\": {\"ips\": [{\"address\": "
			       "\"198.19.1.1/32\"}]}}", &c, msg), CNI_OK);
	assert_string_equal(c.netns, "");
	assert_non_null(c.prev);
	struct vip v[4];
	assert_int_equal(cniconf_result_vips(c.prev, v, 4), 1);
	cniconf_free(&c);
}

static void test_result(void **state)
{
	struct cniconf c;
	struct vip v[2];
	char msg[256], *s;
	json_t *r;

	assert_int_equal(parse(add_env, "{" BASE ", \"dns\": {\"search\": [\"vnet\"]}}", &c, msg),
			 CNI_OK);
	assert_int_equal(vip_parse("198.19.1.1", &v[0]), 0);
	assert_int_equal(vip_parse("fd00:19:1::1", &v[1]), 0);
	r = cniconf_result(&c, v, 2);
	s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"cniVersion\":\"1.0.0\",\"dns\":{\"search\":[\"vnet\"]},"
			    "\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/run/netns/cni-1\"}],"
			    "\"ips\":[{\"address\":\"198.19.1.1/32\",\"interface\":0},"
			    "{\"address\":\"fd00:19:1::1/128\",\"interface\":0}],"
			    "\"routes\":[{\"dst\":\"0.0.0.0/0\"},{\"dst\":\"::/0\"}]}");
	free(s);
	json_decref(r);
	cniconf_free(&c);

	/* before 1.0.0, each ips entry says its version */
	assert_int_equal(parse(add_env, "{\"cniVersion\": \"0.4.0\", \"name\": \"n\", "
			       "\"type\": \"t\"}", &c, msg), CNI_OK);
	r = cniconf_result(&c, v, 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(r, "ips"), 0), "version")), "4");
	json_decref(r);
	cniconf_free(&c);

	r = cniconf_error("1.0.0", CNI_ERR_CONFIG, "bad", "worse");
	s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"cniVersion\":\"1.0.0\",\"code\":7,\"details\":\"worse\","
			    "\"msg\":\"bad\"}");
	free(s);
	json_decref(r);
	r = cniconf_version_result("0.4.0");
	assert_int_equal(json_array_size(json_object_get(r, "supportedVersions")), 4);
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_args_override),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_del_minimal),
		cmocka_unit_test(test_result),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
