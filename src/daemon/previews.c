/*
 * previews.c - previews and thumbnails of ingested files (see previews.h).
 *
 * A file's rule is found again by the rules module itself: for each
 * collection with previews, one rule set per kind (preview, thumbnail)
 * whose rules are the collection's, with the preview's URI template (made
 * a template of the rule's kind by conf_preview_template) as their uri, so
 * that classifying the file's name gives both the rule and the URI.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "caom/artifact.h"
#include "caom/caom.h"
#include "caom/fits.h"
#include "caom/preview.h"
#include "conf/conf.h"
#include "conf/conf_preview.h"
#include "conf/rules.h"
#include "daemon/previews.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "sinks/sink_dir.h"
#include "store/state.h"

enum { PV_PREVIEW, PV_THUMBNAIL, PV_KINDS };

static const struct {
	const char	*product_type;
	const char	*release_type;
} pv_kinds[PV_KINDS] = { { "preview", "data" }, { "thumbnail", "meta" } };

struct previews_coll {
	const struct conf_collection *c;
	struct rules	*rules[PV_KINDS];
};

struct previews {
	struct previews_coll *v;
	size_t		 n;
	char		*dir;		/* default root: the sink's, or STATE_DIR/previews */
};

/* One file to make. */
struct previews_item {
	int		 kind;
	char		*uri;
	char		*name;		/* the URI's last segment */
	long		 size;
	int		 format;
	struct artifact_facts facts;
	int		 made;
};

struct previews_plan {
	struct preview_opts opts;
	int		 fail;		/* on_error: fail */
	char		*root;		/* files go to ROOT/COLLECTION/NAME */
	char		*collection;
	struct previews_item item[PV_KINDS];
	size_t		 n;
	char		*error;		/* why they were not made */
	int		 logged;
};

static const struct conf_preview_out *
pv_out(const struct conf_rule *r, int kind)
{
	return kind == PV_PREVIEW ? &r->previews.preview : &r->previews.thumbnail;
}

/* The rule set of one kind: the collection's rules, the preview URI as uri. */
static struct rules *
pv_rules(const struct conf_collection *c, int kind, char **cause)
{
	struct rules_spec *specs = xcalloc(c->rules.n + 1, sizeof *specs);
	char **templ = xcalloc(c->rules.n + 1, sizeof *templ);
	struct rules *r;
	size_t i;

	for (i = 0; i < c->rules.n; i++) {
		const struct conf_rule *cr = &c->rules.v[i];

		specs[i].match = cr->match;
		specs[i].observation = cr->observation;
		specs[i].product = cr->product;
		templ[i] = pv_out(cr, kind)->uri != NULL ?
		    conf_preview_template(cr, pv_out(cr, kind)->uri) : xstrdup(cr->uri);
		specs[i].uri = templ[i];
	}
	r = rules_new(c->name, NULL, NULL, specs, c->rules.n, cause);
	for (i = 0; i < c->rules.n; i++)
		free(templ[i]);
	free(templ);
	free(specs);
	return r;
}

static int
pv_wanted(const struct conf_collection *c)
{
	size_t i;

	for (i = 0; i < c->rules.n; i++) {
		if (conf_preview_wanted(&c->rules.v[i].previews))
			return 1;
	}
	return 0;
}

struct previews *
previews_new(const struct conf *cfg, const char *sink_dir, char **cause)
{
	struct previews *pv = xcalloc(1, sizeof *pv);
	struct previews_coll *pc;
	size_t i;
	int k;

	pv->dir = sink_dir != NULL ? xstrdup(sink_dir) : xasprintf("%s/previews", cfg->state_dir);
	pv->v = xcalloc(cfg->collections.n + 1, sizeof *pv->v);
	for (i = 0; i < cfg->collections.n; i++) {
		if (!pv_wanted(&cfg->collections.v[i]))
			continue;
		pc = &pv->v[pv->n++];
		pc->c = &cfg->collections.v[i];
		for (k = 0; k < PV_KINDS; k++) {
			if ((pc->rules[k] = pv_rules(pc->c, k, cause)) == NULL) {
				previews_free(pv);
				return NULL;
			}
		}
	}
	return pv;
}

void
previews_free(struct previews *pv)
{
	size_t i;
	int k;

	if (pv == NULL)
		return;
	for (i = 0; i < pv->n; i++) {
		for (k = 0; k < PV_KINDS; k++)
			rules_free(pv->v[i].rules[k]);
	}
	free(pv->v);
	free(pv->dir);
	free(pv);
}

void
previews_plan_free(struct previews_plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		free(p->item[i].uri);
		free(p->item[i].name);
	}
	free(p->root);
	free(p->collection);
	free(p->error);
	free(p);
}

/* The file name of a URI: after its last '/', else after its scheme's ':'. */
static char *
pv_name(const char *uri)
{
	const char *s = strrchr(uri, '/') ? strrchr(uri, '/') + 1 : strchr(uri, ':') ?
	    strchr(uri, ':') + 1 : uri;

	return xstrdup(s);
}

/* The item of kind for f, when the rule its name matches has one and still
 * gives f's observation and product; that rule, or NULL. */
static const struct conf_rule *
pv_plan_item(struct previews_plan *p, const struct previews_coll *pc, int kind,
    const struct state_file *f)
{
	const struct conf_rule *r = NULL;
	struct rules_result res;
	struct previews_item *it;

	if (rules_classify(pc->rules[kind], f->path, &res) != RULES_MATCHED)
		return NULL;
	if (pv_out(&pc->c->rules.v[res.rule], kind)->uri != NULL &&
	    strcmp(res.product, f->product) == 0 && strcmp(res.observation, f->observation) == 0) {
		r = &pc->c->rules.v[res.rule];
		it = &p->item[p->n++];
		it->kind = kind;
		it->uri = xstrdup(res.uri);
		it->name = pv_name(res.uri);
		it->size = pv_out(r, kind)->size;
		it->format = r->previews.format != PREVIEW_FORMAT_AUTO ? r->previews.format :
		    preview_format_of(res.uri);
		if (it->format == PREVIEW_FORMAT_AUTO)
			it->format = PREVIEW_FORMAT_JPEG;
	}
	rules_result_free(&res);
	return r;
}

/* A header dump (*.header) has no pixels. */
static int
pv_is_dump(const char *path)
{
	size_t n = strlen(path);

	return n > 7 && strcmp(path + n - 7, ".header") == 0;
}

struct previews_plan *
previews_plan(const struct previews *pv, const char *collection, const struct state_file *f)
{
	const struct previews_coll *pc = NULL;
	const struct conf_rule *rule = NULL, *r;
	struct previews_plan *p;
	size_t i;
	int k;

	for (i = 0; i < pv->n && pc == NULL; i++) {
		if (strcmp(pv->v[i].c->name, collection) == 0)
			pc = &pv->v[i];
	}
	if (pc == NULL || f->product == NULL || f->observation == NULL ||
	    !fits_name_is_fits(f->path) || pv_is_dump(f->path))
		return NULL;	/* no pixels to show */
	p = xcalloc(1, sizeof *p);
	for (k = 0; k < PV_KINDS; k++) {
		if ((r = pv_plan_item(p, pc, k, f)) != NULL)
			rule = r;	/* the same rule for both: the same patterns */
	}
	if (rule == NULL) {
		previews_plan_free(p);
		return NULL;
	}
	p->collection = xstrdup(collection);
	p->root = xstrdup(rule->previews.directory != NULL ? rule->previews.directory : pv->dir);
	p->fail = rule->previews.on_error == 1;
	conf_preview_options(&rule->previews, &p->opts, &p->error);	/* checked at load */
	return p;
}

void
previews_make(struct previews_plan *p, const char *path)
{
	struct preview_output outs[PV_KINDS];
	char *cause = NULL, *file;
	size_t i;

	if (p->error != NULL)
		return;
	memset(outs, 0, sizeof outs);
	for (i = 0; i < p->n; i++) {
		outs[i].size = p->item[i].size;
		outs[i].format = p->item[i].format;
	}
	if (preview_make(path, &p->opts, outs, p->n, NULL, &p->error) != 0)
		return;
	for (i = 0; i < p->n && p->error == NULL; i++) {
		file = xasprintf("%s/%s/%s", p->root, p->collection, p->item[i].name);
		if (sink_dir_write_file(p->root, p->collection, p->item[i].name, outs[i].data,
		    outs[i].len, &cause) != 0 || artifact_md5(file, p->item[i].facts.md5,
		    &cause) != 0) {
			p->error = cause;
			cause = NULL;
		} else {
			p->item[i].facts.length = (int64_t)outs[i].len;
			p->item[i].facts.type = preview_content_type(outs[i].format);
			p->item[i].made = 1;
		}
		free(file);
	}
	for (i = 0; i < p->n; i++)
		preview_output_clear(&outs[i]);
}

/* What was made, or why not, logged once. */
static void
pv_log(struct previews_plan *p, const char *path)
{
	size_t i;

	p->logged = 1;
	if (p->error != NULL) {		/* which names the file; on_error: fail says it too */
		if (!p->fail)
			log_at(LOG_WARNING, 0, LOG_FIELDS({ "FILE", path }), "no preview (the "
			    "observation goes on without): %s", p->error);
		return;
	}
	for (i = 0; i < p->n; i++)
		log_at(LOG_INFO, 0, LOG_FIELDS({ "FILE", path }), "%s: %s %s written to %s/%s/%s "
		    "(%lld bytes)", path, pv_kinds[p->item[i].kind].product_type, p->item[i].uri,
		    p->root, p->collection, p->item[i].name, (long long)p->item[i].facts.length);
}

int
previews_apply(struct previews_plan *p, struct caom_observation *obs, const char *product,
    const char *path, char **cause)
{
	struct caom_plane *plane;
	struct caom_artifact *a;
	size_t i;

	if (!p->logged)
		pv_log(p, path);
	if (p->error != NULL) {
		if (p->fail)
			*cause = xasprintf("preview: %s", p->error);
		return p->fail ? -1 : 0;
	}
	plane = caom_observation_add_plane(obs, product);
	for (i = 0; i < p->n; i++) {
		a = caom_plane_add_artifact(plane, p->item[i].uri);
		free(a->product_type);
		a->product_type = xstrdup(pv_kinds[p->item[i].kind].product_type);
		free(a->release_type);
		a->release_type = xstrdup(pv_kinds[p->item[i].kind].release_type);
		artifact_facts_apply(a, &p->item[i].facts);
	}
	return 0;
}
