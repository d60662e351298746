/*
 * strmap.c - a hash map from strings to pointers (open addressing, linear
 * probing, tombstones; FNV-1a hashing).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strmap.h"
#include "lib/xmalloc.h"

struct strmap_slot {
	char		*key;		/* NULL: empty; strmap_tomb: deleted */
	void		*value;
	uint32_t	 hash;
};

struct strmap {
	struct strmap_slot *slots;
	size_t		    cap;	/* a power of two, or 0 */
	size_t		    used;	/* live + tombstones */
	size_t		    live;
	int		    borrowed;	/* keys belong to the caller */
};

static char strmap_tomb[1];

static uint32_t
strmap_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

struct strmap *
strmap_new(void)
{
	return xcalloc(1, sizeof(struct strmap));
}

struct strmap *
strmap_new_borrowed(void)
{
	struct strmap *m = strmap_new();

	m->borrowed = 1;
	return m;
}

void
strmap_free(struct strmap *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->cap; i++) {
		if (!m->borrowed && m->slots[i].key != NULL && m->slots[i].key != strmap_tomb)
			free(m->slots[i].key);
	}
	free(m->slots);
	free(m);
}

/* The slot holding key, or NULL. */
static struct strmap_slot *
strmap_find(const struct strmap *m, const char *key, uint32_t h)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	for (i = h & (m->cap - 1); m->slots[i].key != NULL; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].key != strmap_tomb && m->slots[i].hash == h &&
		    strcmp(m->slots[i].key, key) == 0)
			return &m->slots[i];
	}
	return NULL;
}

static void
strmap_insert(struct strmap *m, char *key, void *value, uint32_t h)
{
	size_t i;

	for (i = h & (m->cap - 1); m->slots[i].key != NULL && m->slots[i].key != strmap_tomb;
	    i = (i + 1) & (m->cap - 1))
		;
	if (m->slots[i].key == NULL)
		m->used++;
	m->live++;
	m->slots[i].key = key;
	m->slots[i].value = value;
	m->slots[i].hash = h;
}

static void
strmap_grow(struct strmap *m)
{
	struct strmap_slot *old = m->slots;
	size_t i, oldcap = m->cap;

	m->cap = m->cap == 0 ? 16 : (m->live + 1) * 4 > m->cap ? m->cap * 2 : m->cap;
	m->slots = xcalloc(m->cap, sizeof *m->slots);
	m->used = m->live = 0;
	for (i = 0; i < oldcap; i++) {
		if (old[i].key != NULL && old[i].key != strmap_tomb)
			strmap_insert(m, old[i].key, old[i].value, old[i].hash);
	}
	free(old);
}

void *
strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_slot *s = strmap_find(m, key, strmap_hash(key));

	return s != NULL ? s->value : NULL;
}

void *
strmap_put(struct strmap *m, const char *key, void *value)
{
	uint32_t h = strmap_hash(key);
	struct strmap_slot *s;
	void *old;

	if ((s = strmap_find(m, key, h)) != NULL) {
		old = s->value;
		s->value = value;
		return old;
	}
	if ((m->used + 1) * 2 > m->cap)
		strmap_grow(m);
	/* cast: a borrowed key is never written or freed */
	strmap_insert(m, m->borrowed ? (char *)(uintptr_t)key : xstrdup(key), value, h);
	return NULL;
}

void *
strmap_del(struct strmap *m, const char *key)
{
	struct strmap_slot *s = strmap_find(m, key, strmap_hash(key));
	void *value;

	if (s == NULL)
		return NULL;
	value = s->value;
	if (!m->borrowed)
		free(s->key);
	s->key = strmap_tomb;
	s->value = NULL;
	m->live--;
	return value;
}

size_t
strmap_count(const struct strmap *m)
{
	return m->live;
}

void
strmap_each(const struct strmap *m, void (*fn)(const char *, void *, void *), void *arg)
{
	size_t i;

	for (i = 0; i < m->cap; i++) {
		if (m->slots[i].key != NULL && m->slots[i].key != strmap_tomb)
			fn(m->slots[i].key, m->slots[i].value, arg);
	}
}
