/* Bounds-checked big-endian readers and writers for wire data. Never cast a struct over
 * bytes from the network: read each field with these. Each get_* returns false (and leaves
 * *off unchanged) when the field would run past len. */
#ifndef TUNNEL_WIRE_H
#define TUNNEL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline bool get_u8(const uint8_t *b, size_t len, size_t *off, uint8_t *v)
{
	if (len < 1 || *off > len - 1)
		return false;
	*v = b[(*off)++];
	return true;
}

static inline bool get_be16(const uint8_t *b, size_t len, size_t *off, uint16_t *v)
{
	if (len < 2 || *off > len - 2)
		return false;
	*v = (uint16_t)(b[*off] << 8 | b[*off + 1]);
	*off += 2;
	return true;
}

static inline bool get_be32(const uint8_t *b, size_t len, size_t *off, uint32_t *v)
{
	if (len < 4 || *off > len - 4)
		return false;
	*v = (uint32_t)b[*off] << 24 | (uint32_t)b[*off + 1] << 16 |
	     (uint32_t)b[*off + 2] << 8 | b[*off + 3];
	*off += 4;
	return true;
}

static inline bool get_be64(const uint8_t *b, size_t len, size_t *off, uint64_t *v)
{
	uint32_t hi, lo;
	size_t o = *off;

	if (!get_be32(b, len, &o, &hi) || !get_be32(b, len, &o, &lo))
		return false;
	*v = (uint64_t)hi << 32 | lo;
	*off = o;
	return true;
}

static inline bool get_bytes(const uint8_t *b, size_t len, size_t *off, void *out, size_t n)
{
	if (n > len || *off > len - n)
		return false;
	memcpy(out, b + *off, n);
	*off += n;
	return true;
}

/* Writers: return false when the field does not fit in cap. */
static inline bool put_u8(uint8_t *b, size_t cap, size_t *off, uint8_t v)
{
	if (cap < 1 || *off > cap - 1)
		return false;
	b[(*off)++] = v;
	return true;
}

static inline bool put_be16(uint8_t *b, size_t cap, size_t *off, uint16_t v)
{
	if (cap < 2 || *off > cap - 2)
		return false;
	b[*off] = (uint8_t)(v >> 8);
	b[*off + 1] = (uint8_t)v;
	*off += 2;
	return true;
}

static inline bool put_be32(uint8_t *b, size_t cap, size_t *off, uint32_t v)
{
	if (cap < 4 || *off > cap - 4)
		return false;
	b[*off] = (uint8_t)(v >> 24);
	b[*off + 1] = (uint8_t)(v >> 16);
	b[*off + 2] = (uint8_t)(v >> 8);
	b[*off + 3] = (uint8_t)v;
	*off += 4;
	return true;
}

static inline bool put_be64(uint8_t *b, size_t cap, size_t *off, uint64_t v)
{
	size_t o = *off;

	if (!put_be32(b, cap, &o, (uint32_t)(v >> 32)) || !put_be32(b, cap, &o, (uint32_t)v))
		return false;
	*off = o;
	return true;
}

static inline bool put_bytes(uint8_t *b, size_t cap, size_t *off, const void *in, size_t n)
{
	if (n > cap || *off > cap - n)
		return false;
	memcpy(b + *off, in, n);
	*off += n;
	return true;
}

#endif
