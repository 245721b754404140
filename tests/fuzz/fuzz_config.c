/* The config file (tunvnet/config.c through config_read): what an operator, or whoever
 * can write the file, hands the daemon at start and on every SIGHUP. A file it accepts
 * must print (config_print) to a file it accepts again, which prints the same.
 *
 * A valid config needs a key file: a temporary directory holds one (cluster.key), and
 * the file under test is read as if it lived there, so "key_file = cluster.key" works. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"
#include "tunvnet/config.h"

static char dir[] = "/tmp/tunvnet-fuzz-config.XXXXXX";
static char path[sizeof(dir) + 16];
static FILE *devnull;

static void cleanup(void)
{
	char key[sizeof(dir) + 16];

	snprintf(key, sizeof(key), "%s/cluster.key", dir);
	unlink(key);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char secret[] = "0123456789abcdef0123456789abcdef-fuzz\n";
	char key[sizeof(dir) + 16];
	FILE *f;

	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	snprintf(key, sizeof(key), "%s/cluster.key", dir);
	f = fopen(key, "w");
	if (!f || fputs(secret, f) == EOF || fchmod(fileno(f), 0600) < 0 || fclose(f) == EOF)
		abort();
	snprintf(path, sizeof(path), "%s/fuzz.conf", dir);
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		abort();
	return 0;
}

/* Reads size bytes as a config; the stream is closed here. */
static int load(const void *data, size_t size, struct config *cfg)
{
	/* fmemopen refuses a buffer of 0 bytes */
	FILE *f = size ? fmemopen((void *)data, size, "r") : fopen("/dev/null", "r");
	int n;

	if (!f)
		abort();
	n = config_read(f, path, cfg, devnull);
	fclose(f);
	return n;
}

/* cfg in its normalised form, malloc'd */
static char *print(const struct config *cfg, size_t *len)
{
	char *text = NULL;
	FILE *m = open_memstream(&text, len);

	if (!m)
		abort();
	config_print(cfg, m);
	fclose(m);
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg, again;
	char *text, *text2;
	size_t len, len2;
	int n;

	if (size > 16384)
		return 0;
	n = load(data, size, &cfg);
	FUZZ_CHECK(n >= 0);
	if (n != 0)
		return 0;
	text = print(&cfg, &len);
	n = load(text, len, &again);
	if (n != 0)
		fprintf(stderr, "the printed config is refused:\n%s\n", text);
	FUZZ_CHECK(n == 0);
	text2 = print(&again, &len2);
	FUZZ_CHECK(len == len2 && memcmp(text, text2, len) == 0);
	free(text);
	free(text2);
	return 0;
}
