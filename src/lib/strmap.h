/*
 * strmap.h - a hash map from strings to pointers (open addressing).
 *
 * Written here because libc's hsearch cannot delete or iterate and the
 * project links no container library; keys are copied, values are not.
 */
#ifndef CAOM2INGEST_STRMAP_H
#define CAOM2INGEST_STRMAP_H

#include <stddef.h>

struct strmap;

/* An empty map. */
struct strmap *strmap_new(void);
/* An empty map that stores the caller's key pointers instead of copies: each
 * key must stay unchanged and alive as long as it is in the map. */
struct strmap *strmap_new_borrowed(void);
/* Free the map and its keys (not the values); NULL is accepted. */
void strmap_free(struct strmap *m);
/* The value for key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);
/* Set key to value (value must not be NULL); returns the previous value or NULL. */
void *strmap_put(struct strmap *m, const char *key, void *value);
/* Remove key; returns its value or NULL. */
void *strmap_del(struct strmap *m, const char *key);
/* Number of keys. */
size_t strmap_count(const struct strmap *m);
/* Call fn for every key; fn must not change the map. */
void strmap_each(const struct strmap *m, void (*fn)(const char *key, void *value, void *arg),
    void *arg);

#endif
