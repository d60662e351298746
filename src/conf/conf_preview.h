/*
 * conf_preview.h - a naming rule's previews (struct conf_previews, read by
 * conf.c) as the preview module's options, and its preview URI templates as
 * templates of the rule's own kind.
 */
#ifndef CAOM2INGEST_CONF_PREVIEW_H
#define CAOM2INGEST_CONF_PREVIEW_H

struct conf_previews;
struct conf_rule;
struct preview_opts;

/* Does the rule make a preview or a thumbnail? */
int conf_preview_wanted(const struct conf_previews *p);
/* Check a rule's previews: its options, and each URI a template of the rule's
 * kind that names a format; 0, or -1 with *errors ("previews.KEY: ..." lines). */
int conf_preview_check(const struct conf_rule *r, char **errors);
/* The options p configures into *o; 0, or -1 with *cause ("KEY: ..."). */
int conf_preview_options(const struct conf_previews *p, struct preview_opts *o, char **cause);
/*
 * A preview URI template as a template of the rule's match: ${product} and
 * ${observation} become the rule's own templates for them (which name the
 * pattern's groups, ${file} and ${collection}). Free the result.
 */
char *conf_preview_template(const struct conf_rule *r, const char *uri);

#endif
