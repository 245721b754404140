/* Aligned text tables for vnetctl's human output.
 *
 * Widths count UTF-8 characters, not bytes, so a namespace name with non-ASCII letters
 * does not push its row out of line. Lines never end in blanks: padding is written only
 * when something follows it. */
#include "ctl/vnetctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define GAP 2 /* blanks between columns */

/* Control characters (C0, DEL) become '?': the text comes from the daemon, which got
 * names from whoever attached a job. */
static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* Appends cell (taken over; NULL only for the filler of a span row). */
static int push(struct table *t, char *cell)
{
	char **bigger;
	int cap;

	if (t->err) {
		free(cell);
		return t->err;
	}
	if (t->ncells == t->cap) {
		cap = t->cap ? t->cap * 2 : 64;
		bigger = realloc(t->cells, (size_t)cap * sizeof(*bigger));
		if (!bigger) {
			free(cell);
			return t->err = -ENOMEM;
		}
		t->cells = bigger;
		t->cap = cap;
	}
	t->cells[t->ncells++] = cell;
	return 0;
}

static int vadd(struct table *t, const char *fmt, va_list ap)
{
	char *cell;

	if (t->err)
		return t->err;
	if (vasprintf(&cell, fmt, ap) < 0)
		return t->err = -ENOMEM;
	clean(cell);
	return push(t, cell);
}

int table_init(struct table *t, int ncols, const char *const *headers, uint32_t right)
{
	int i;

	memset(t, 0, sizeof(*t));
	if (ncols < 1 || ncols > 32)
		return t->err = -EINVAL;
	t->ncols = ncols;
	t->right = right;
	t->header = headers != NULL;
	for (i = 0; headers && i < ncols; i++)
		table_add(t, "%s", headers[i]);
	return t->err;
}

int table_add(struct table *t, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vadd(t, fmt, ap);
	va_end(ap);
	return r;
}

int table_add_span(struct table *t, const char *fmt, ...)
{
	va_list ap;
	int r, i;

	if (t->ncells % t->ncols)
		return t->err = -EINVAL;
	va_start(ap, fmt);
	r = vadd(t, fmt, ap);
	va_end(ap);
	for (i = 1; r == 0 && i < t->ncols; i++)
		r = push(t, NULL);
	return r;
}

int table_add_json(struct table *t, const json_t *v)
{
	char *s;
	int r;

	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		/* an empty cell would read as a misaligned table, not as "none" */
		return table_add(t, "%s", *json_string_value(v) ? json_string_value(v) : "-");
	case JSON_INTEGER:
		return table_add(t, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		return table_add(t, "%g", json_real_value(v));
	case JSON_TRUE:
		return table_add(t, "yes");
	case JSON_FALSE:
		return table_add(t, "no");
	case JSON_NULL:
		return table_add(t, "-");
	case JSON_OBJECT:
	case JSON_ARRAY:
		break;
	}
	s = json_dumps(v, JSON_COMPACT);
	if (!s)
		return t->err = t->err ?: -ENOMEM;
	r = table_add(t, "%s", s);
	free(s);
	return r;
}

const char *table_duration(uint64_t s, char *buf, size_t size)
{
	if (s < 60)
		snprintf(buf, size, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, size, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
	return buf;
}

int table_add_duration(struct table *t, const json_t *v)
{
	char buf[32];

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return table_add(t, "-");
	return table_add(t, "%s", table_duration((uint64_t)json_integer_value(v), buf,
						     sizeof(buf)));
}

static bool is_span(const struct table *t, int row)
{
	return t->ncols > 1 && !t->cells[row * t->ncols + 1];
}

void table_print(const struct table *t, FILE *out)
{
	size_t w[32] = { 0 }, cw, pending;
	int rows = t->ncells / t->ncols, r, c;
	const char *cell;

	for (r = 0; r < rows; r++) {
		if (is_span(t, r))
			continue;
		for (c = 0; c < t->ncols; c++) {
			cw = width(t->cells[r * t->ncols + c]);
			if (cw > w[c])
				w[c] = cw;
		}
	}
	for (r = 0; r < rows; r++) {
		if (is_span(t, r)) {
			fprintf(out, "%s\n", t->cells[r * t->ncols]);
			continue;
		}
		pending = 0;
		for (c = 0; c < t->ncols; c++) {
			cell = t->cells[r * t->ncols + c];
			cw = width(cell);
			/* headers of right-aligned columns are right-aligned too, like ps(1) */
			if (t->right & (1u << c))
				pending += w[c] - cw;
			if (*cell) {
				fprintf(out, "%*s%s", (int)pending, "", cell);
				pending = 0;
			}
			if (!(t->right & (1u << c)))
				pending += w[c] - cw;
			pending += GAP;
		}
		fputc('\n', out);
	}
}

void table_free(struct table *t)
{
	int i;

	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

static void add_ms(struct table *t, const json_t *v)
{
	double ms = json_number_value(v);

	if (!json_is_number(v) || ms < 0) /* -1: not measured yet */
		table_add(t, "-");
	else if (ms < 100)
		table_add(t, "%.2fms", ms);
	else
		table_add(t, "%.0fms", ms);
}

static void add_list(struct table *t, const json_t *v)
{
	const json_t *item;
	char *cell = NULL;
	size_t size, i;
	FILE *f;

	if (!json_is_array(v) || json_array_size(v) == 0) {
		table_add_json(t, json_is_array(v) ? NULL : v);
		return;
	}
	f = open_memstream(&cell, &size);
	if (!f) {
		t->err = t->err ?: -ENOMEM;
		return;
	}
	json_array_foreach(v, i, item) {
		if (i)
			fputc(',', f);
		if (json_is_string(item))
			fputs(json_string_value(item), f);
		else
			json_dumpf(item, f, JSON_COMPACT | JSON_ENCODE_ANY);
	}
	if (fclose(f) != 0 || !cell)
		t->err = t->err ?: -ENOMEM;
	else
		table_add(t, "%s", cell);
	free(cell);
}

int table_rows(const json_t *rows, const struct table_col *cols, int ncols, const char *what)
{
	const char *headers[32];
	const json_t *row, *v;
	uint32_t right = 0;
	struct table t;
	size_t i;
	int c;

	if (!json_is_array(rows))
		return client_bad_result("%s is not a list", what);
	json_array_foreach(rows, i, row) {
		if (!json_is_object(row))
			return client_bad_result("%s entry %zu is not an object", what, i + 1);
	}
	for (c = 0; c < ncols && c < 32; c++) {
		headers[c] = cols[c].header;
		right |= cols[c].right ? 1u << c : 0;
	}
	if (table_init(&t, ncols, headers, right) < 0)
		return table_output(&t);
	json_array_foreach(rows, i, row) {
		for (c = 0; c < ncols; c++) {
			v = json_object_get(row, cols[c].key);
			switch (cols[c].fmt) {
			case TABLE_JSON:
				table_add_json(&t, v);
				break;
			case TABLE_DURATION:
				table_add_duration(&t, v);
				break;
			case TABLE_MS:
				add_ms(&t, v);
				break;
			case TABLE_LIST:
				add_list(&t, v);
				break;
			}
		}
	}
	return table_output(&t);
}

int table_output(struct table *t)
{
	int err = t->err;

	if (!err)
		table_print(t, stdout);
	else
		fprintf(stderr, "vnetctl: %s\n", strerror(-err));
	table_free(t);
	return err ? VNETCTL_EXIT_ERROR : 0;
}

const char *table_safe(const char *s, char *buf, size_t size)
{
	snprintf(buf, size, "%s", s ? s : "-");
	clean(buf);
	return buf;
}
