/*
 * t/strmap.c - the string map: put, get, replace, delete, growth with
 * tombstones, iteration.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "lib/strmap.h"
#include "tap.h"

static void
count_each(const char *key, void *value, void *arg)
{
	(*(size_t *)arg)++;
}

int
main(void)
{
	struct strmap *m = strmap_new();
	static int values[20000];
	char key[32];
	size_t i, n = 0, bad = 0;

	plan(10);
	ok(strmap_get(m, "x") == NULL, "empty map has nothing");
	ok(strmap_put(m, "x", &values[0]) == NULL, "first put returns NULL");
	ok(strmap_put(m, "x", &values[1]) == &values[0], "replacing returns the old value");
	ok(strmap_get(m, "x") == &values[1], "get sees the new value");
	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof key, "/landing/f%zu.fits", i);
		strmap_put(m, key, &values[i]);
	}
	for (i = 0; i < 20000; i += 2) {
		snprintf(key, sizeof key, "/landing/f%zu.fits", i);
		if (strmap_del(m, key) != &values[i])
			bad++;
	}
	is_int(0, (long long)bad, "deleting returns each value");
	is_int(10001, (long long)strmap_count(m), "count after deletes");
	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof key, "/landing/f%zu.fits", i);
		if ((strmap_get(m, key) != NULL) != (i % 2 == 1))
			bad++;
	}
	is_int(0, (long long)bad, "exactly the odd keys remain");
	strmap_each(m, count_each, &n);
	is_int(10001, (long long)n, "iteration visits every key once");
	ok(strmap_del(m, "absent") == NULL, "deleting an absent key returns NULL");
	for (i = 0; i < 100000; i++) {	/* churn: tombstones must not fill the table */
		snprintf(key, sizeof key, "churn%zu", i);
		strmap_put(m, key, &values[0]);
		strmap_del(m, key);
	}
	is_int(10001, (long long)strmap_count(m), "put/delete churn keeps the count");
	strmap_free(m);
	strmap_free(NULL);
	return 0;
}
