/*
 * sigv4.c - AWS Signature Version 4 credentials and request set-up (see
 * sigv4.h). The signing itself is libcurl's (CURLOPT_AWS_SIGV4).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "lib/fileio.h"
#include "lib/sigv4.h"
#include "lib/xmalloc.h"

static char *
sigv4_trim(char *s)
{
	size_t len;

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
		s[--len] = '\0';
	return s;
}

static void
sigv4_forget(char **p)
{
	if (*p != NULL)
		explicit_bzero(*p, strlen(*p));
	free(*p);
	*p = NULL;
}

/* One line of a credentials file: a [section] or a key = value of ours. */
static void
sigv4_line(struct sigv4 *sv, char *line, const char *profile, int *in, int *found)
{
	char *t = sigv4_trim(line), *eq, *key, *value;
	size_t len = strlen(t);

	if (*t == '\0' || *t == '#' || *t == ';')
		return;
	if (*t == '[' && t[len - 1] == ']') {
		t[len - 1] = '\0';
		t = sigv4_trim(t + 1);
		if (strncmp(t, "profile ", 8) == 0)
			t = sigv4_trim(t + 8);
		*in = strcmp(t, profile) == 0;
		*found |= *in;
		return;
	}
	if (!*in || (eq = strchr(t, '=')) == NULL)
		return;
	*eq = '\0';
	key = sigv4_trim(t);
	value = sigv4_trim(eq + 1);
	if (strcmp(key, "aws_access_key_id") == 0) {
		sigv4_forget(&sv->access);
		sv->access = xstrdup(value);
	} else if (strcmp(key, "aws_secret_access_key") == 0) {
		sigv4_forget(&sv->secret);
		sv->secret = xstrdup(value);
	} else if (strcmp(key, "aws_session_token") == 0) {
		sigv4_forget(&sv->session);
		sv->session = xasprintf("x-amz-security-token: %s", value);
	}
}

int
sigv4_load(struct sigv4 *sv, const char *path, const char *profile, char **cause)
{
	char *text, *next, *line;
	size_t len;
	int in = 0, found = 0;

	if (profile == NULL)
		profile = "default";
	if (fileio_secret_text(path, "credentials file", &text, &len, cause) != 0)
		return -1;
	for (next = text; (line = strsep(&next, "\n")) != NULL;)
		sigv4_line(sv, line, profile, &in, &found);
	explicit_bzero(text, len);
	free(text);
	if (!found)
		*cause = xasprintf("credentials file %s: no [%s] section", path, profile);
	else if (sv->access == NULL || *sv->access == '\0')
		*cause = xasprintf("credentials file %s: [%s] has no aws_access_key_id", path,
		    profile);
	else if (sv->secret == NULL || *sv->secret == '\0')
		*cause = xasprintf("credentials file %s: [%s] has no aws_secret_access_key",
		    path, profile);
	else
		return 0;
	return -1;
}

int
sigv4_set_region(struct sigv4 *sv, const char *region, char **cause)
{
	if (region == NULL)
		region = "us-east-1";
	if (*region == '\0' || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
	    strlen(region)) {
		*cause = xasprintf("S3 region %s: lower-case letters, digits and '-' expected",
		    region);
		return -1;
	}
	free(sv->provider);
	sv->provider = xasprintf("aws:amz:%s:s3", region);
	return 0;
}

void
sigv4_apply(const struct sigv4 *sv, CURL *e, struct curl_slist **headers,
    const char *payload_sha256)
{
	char *h;

	if (sv->access == NULL)
		return;
	curl_easy_setopt(e, CURLOPT_AWS_SIGV4, sv->provider);
	curl_easy_setopt(e, CURLOPT_USERNAME, sv->access);
	curl_easy_setopt(e, CURLOPT_PASSWORD, sv->secret);
	/* libcurl 7.88 neither sends nor computes it; S3 requires it and it is signed. */
	h = xasprintf("x-amz-content-sha256: %s", payload_sha256);
	*headers = curl_slist_append(*headers, h);
	free(h);
	if (sv->session != NULL)
		*headers = curl_slist_append(*headers, sv->session);
}

char *
sigv4_encode(const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(3 * strlen(s) + 1), *o = out;
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/'))
			*o++ = (char)c;
		else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

void
sigv4_clear(struct sigv4 *sv)
{
	free(sv->provider);
	sv->provider = NULL;
	sigv4_forget(&sv->access);
	sigv4_forget(&sv->secret);
	sigv4_forget(&sv->session);
}
