/*
 * previews.h - the preview and thumbnail of each file whose naming rule has
 * previews (caom2ingest.yml(5), PREVIEWS), for ingest.c: what a file gets
 * is decided on the loop (the rule its name matches, the URIs its templates
 * give), the images are made and written on a worker, and their artifacts
 * (productType preview / thumbnail, size, MD5, content type) are added to
 * the file's plane when the observation is built, before it is stored.
 *
 * The files are written beside the observations of the directory sink,
 * DIR/COLLECTION/NAME (NAME: the URI's last segment), or, with the
 * repository sink, under STATE_DIR/previews/COLLECTION/ (the rule's
 * previews.directory instead, when given). A preview that cannot be made is
 * a warning, and the observation goes on without it, unless the rule says
 * on_error: fail.
 */
#ifndef CAOM2INGEST_PREVIEWS_H
#define CAOM2INGEST_PREVIEWS_H

struct caom_observation;
struct conf;
struct previews;
struct previews_plan;
struct state_file;

/* The rules' previews of cfg; sink_dir is the directory sink's directory, or
 * NULL with the repository sink. NULL with *cause (a template the rules
 * module refuses: conf_load has checked them, so this is rare). */
struct previews *previews_new(const struct conf *cfg, const char *sink_dir, char **cause);
/* Free; NULL is accepted. */
void previews_free(struct previews *pv);
/* On the loop: what file f of collection gets (NULL: nothing). */
struct previews_plan *previews_plan(const struct previews *pv, const char *collection,
    const struct state_file *f);
/* On a worker: make and write the plan's files (the outcome stays in the plan). */
void previews_make(struct previews_plan *p, const char *path);
/* On the loop: add what was made to obs's plane product (again on a rebuild);
 * a failure is logged once, and is -1 with *cause when the rule says fail. */
int previews_apply(struct previews_plan *p, struct caom_observation *obs, const char *product,
    const char *path, char **cause);
/* Free; NULL is accepted. */
void previews_plan_free(struct previews_plan *p);

#endif
