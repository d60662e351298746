/*
 * conf_preview.c - a rule's previews as options and templates (see
 * conf_preview.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "caom/preview.h"
#include "conf/conf.h"
#include "conf/conf_preview.h"
#include "conf/rules.h"
#include "lib/xmalloc.h"

int
conf_preview_wanted(const struct conf_previews *p)
{
	return p->preview.uri != NULL || p->thumbnail.uri != NULL;
}

int
conf_preview_options(const struct conf_previews *p, struct preview_opts *o, char **cause)
{
	static const struct { const char *name; size_t off; } texts[] = {
		{ "hdu", offsetof(struct conf_previews, hdu) },
		{ "low", offsetof(struct conf_previews, low) },
		{ "high", offsetof(struct conf_previews, high) },
		{ "exponent", offsetof(struct conf_previews, exponent) },
	};
	const char *v;
	size_t i;

	preview_opts_init(o);
	for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		v = *(char *const *)(const void *)((const char *)p + texts[i].off);
		if (v != NULL && preview_opts_set(o, texts[i].name, v, cause) != 0)
			return -1;
	}
	o->kind = p->kind;
	o->scale = p->scale;
	o->stretch = p->stretch;
	o->invert = p->invert;
	o->format = p->format;
	o->timeout_ms = p->timeout_ms;
	if (p->quality > 100) {
		*cause = xasprintf("quality: %ld is more than 100", p->quality);
		return -1;
	}
	o->quality = (int)p->quality;
	return preview_opts_check(o, cause);
}

/* s with every "${name}" replaced by with. */
static char *
conf_preview_replace(const char *s, const char *name, const char *with)
{
	char *key = xasprintf("${%s}", name), *out = xstrdup(""), *tmp;
	const char *at;

	while ((at = strstr(s, key)) != NULL) {
		tmp = xasprintf("%s%.*s%s", out, (int)(at - s), s, with);
		free(out);
		out = tmp;
		s = at + strlen(key);
	}
	tmp = xasprintf("%s%s", out, s);
	free(out);
	free(key);
	return tmp;
}

char *
conf_preview_template(const struct conf_rule *r, const char *uri)
{
	char *a = conf_preview_replace(uri, "product", r->product != NULL ? r->product : "");
	char *b = conf_preview_replace(a, "observation", r->observation != NULL ?
	    r->observation : "");

	free(a);
	return b;
}

static void __attribute__((format(printf, 2, 3)))
conf_preview_error(char **errors, const char *fmt, ...)
{
	va_list ap;
	char *msg, *all;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	all = xasprintf("%s%s%s", *errors != NULL ? *errors : "", *errors != NULL ? "\n" : "",
	    msg);
	free(*errors);
	free(msg);
	*errors = all;
}

/* One preview URI: a template of the rule's kind (checked by the rules
 * module as the rule's uri would be), with a format; the size. */
static void
conf_preview_check_out(const struct conf_rule *r, const char *which,
    const struct conf_preview_out *out, char **errors)
{
	struct rules_spec spec = { r->match, r->observation, r->product, NULL, NULL, NULL, 0 };
	char *templ = conf_preview_template(r, out->uri), *cause = NULL;
	struct rules *rules;

	spec.uri = templ;
	if ((rules = rules_new("check", NULL, NULL, &spec, 1, &cause)) == NULL)
		conf_preview_error(errors, "previews.%s.uri: %s", which,
		    strncmp(cause, "rule 1: uri: ", 13) == 0 ? cause + 13 : cause);
	else if (r->previews.format == PREVIEW_FORMAT_AUTO &&
	    preview_format_of(out->uri) == PREVIEW_FORMAT_AUTO)
		conf_preview_error(errors, "previews.%s.uri: '%s' ends neither in .jpg nor .png: "
		    "give a format", which, out->uri);
	if (out->size > PREVIEW_SIZE_MAX)
		conf_preview_error(errors, "previews.%s.size: %ld is more than %d", which,
		    out->size, PREVIEW_SIZE_MAX);
	rules_free(rules);
	free(cause);
	free(templ);
}

int
conf_preview_check(const struct conf_rule *r, char **errors)
{
	struct preview_opts o;
	char *cause = NULL;

	*errors = NULL;
	if (r->match == NULL || r->observation == NULL || r->product == NULL)
		return 0;	/* reported as required */
	if (conf_preview_options(&r->previews, &o, &cause) != 0) {
		conf_preview_error(errors, "previews.%s", cause);
		free(cause);
	}
	if (r->previews.preview.uri != NULL)
		conf_preview_check_out(r, "preview", &r->previews.preview, errors);
	if (r->previews.thumbnail.uri != NULL)
		conf_preview_check_out(r, "thumbnail", &r->previews.thumbnail, errors);
	return *errors != NULL ? -1 : 0;
}
