/*
 * cmd_map.c - `caom2ingest map`: map files to a CAOM-2.4 observation offline,
 * with the reference caom2gen's arguments (see caom2ingest(1)), or with a
 * collection file's naming rules choosing collection, observation, plane,
 * URI and blueprint for each file, as the daemon does (--collection).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "caom/artifact.h"
#include "caom/blueprint.h"
#include "caom/blueprint_load.h"
#include "caom/caom_xml.h"
#include "caom/checksum.h"
#include "client/client.h"
#include "caom/fits.h"
#include "caom/legacy.h"
#include "caom/lua_code.h"
#include "caom/map.h"
#include "conf/collection.h"
#include "conf/conf.h"
#include "conf/rules.h"
#include "sinks/repo.h"
#include "sinks/sink_dir.h"
#include "lib/xmalloc.h"

struct strv {
	char		**v;
	size_t		 n;
};

/* The collection code: --functions, --visit, --table; built once, bound per blueprint. */
struct map_code {
	const char	*functions;
	struct strv	 visit;
	struct strv	 table_names;
	struct strv	 table_paths;	/* what follows '=' in each --table value */
	struct lua_rt	*rt;		/* NULL: no code */
};

struct map_args {
	char		*collection;
	char		*observation_id;
	struct strv	 lineage;
	struct strv	 local;
	struct strv	 blueprint;
	const char	*config;
	const char	*defaults;
	const char	*overrides;
	const char	*in;
	const char	*artifact_info;
	const char	*out;
	const char	*push;		/* repository observations base */
	const char	*cert;
	const char	*token_file;
	const char	*netrc;
	const char	*ca_path;
	struct strv	 collections;	/* --collection files */
	const char	*outdir;
	struct strv	 files;		/* the files to map (with --collection) */
	struct map_code	 code;
};

struct artifact_info {
	char		*uri;
	char		*length;
	char		*checksum;
	char		*type;
};

static void
strv_add(struct strv *s, const char *v)
{
	s->v = xreallocarray(s->v, s->n + 1, sizeof *s->v);
	s->v[s->n++] = (char *)(uintptr_t)v;
}

static int
map_usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "caom2ingest map: %s\n", why);
	fprintf(stderr, "usage: caom2ingest map --observation COLLECTION OBSERVATION_ID\n"
	    "           --lineage PRODUCT_ID/ARTIFACT_URI... --local FILE...\n"
	    "           (--blueprint FILE... | --config F --default F --override F)\n"
	    "           [--functions FILE.lua] [--visit FILE.lua]... [--table NAME=FILE]...\n"
	    "           [--in EXISTING.xml] [--artifact-info FILE.tsv]\n"
	    "           [-o OUT.xml | --push URL [--cert PEM | --token-file F | --netrc F]\n"
	    "           [--ca-path PATH]]\n"
	    "       caom2ingest map --collection FILE.yml... [--in EXISTING.xml]\n"
	    "           [--artifact-info FILE.tsv] [-o OUT.xml | --outdir DIR] FILE...\n");
	return CLIENT_EXIT_USAGE;
}

/* --collection: the naming rules give what the caom2gen options would. */
static int
map_check_collection(const struct map_args *a)
{
	if (a->collection != NULL || a->lineage.n > 0 || a->local.n > 0 || a->blueprint.n > 0 ||
	    a->config || a->defaults || a->overrides)
		return map_usage("--collection takes the observation, lineage and blueprint from "
		    "the naming rules: no --observation, --lineage, --local, --blueprint, --config, "
		    "--default or --override");
	if (a->push != NULL || a->cert || a->token_file || a->netrc || a->ca_path)
		return map_usage("--push does not go with --collection");
	if (a->out != NULL && a->outdir != NULL)
		return map_usage("-o and --outdir exclude each other");
	if (a->files.n == 0)
		return map_usage("--collection needs the files to map");
	return 0;
}

/* Options may take several values (argparse nargs='+'): up to the next option. */
static int
map_parse(int argc, char **argv, struct map_args *a)
{
	const char *opt;
	int i = 1;

	memset(a, 0, sizeof *a);
	while (i < argc) {
		opt = argv[i++];
		if (strcmp(opt, "--observation") == 0) {
			if (i + 1 >= argc + 0 || argv[i][0] == '-' || argv[i + 1][0] == '-')
				return map_usage("--observation takes COLLECTION OBSERVATION_ID");
			a->collection = argv[i++];
			a->observation_id = argv[i++];
			continue;
		}
		if (strcmp(opt, "--lineage") == 0 || strcmp(opt, "--local") == 0 ||
		    strcmp(opt, "--blueprint") == 0) {
			struct strv *s = opt[2] == 'l' && opt[3] == 'i' ? &a->lineage :
			    (opt[3] == 'o' ? &a->local : &a->blueprint);
			size_t n0 = s->n;

			while (i < argc && argv[i][0] != '-')
				strv_add(s, argv[i++]);
			if (s->n == n0)
				return map_usage(NULL);
			continue;
		}
		if (opt[0] != '-' || strcmp(opt, "-") == 0) {
			strv_add(&a->files, opt);
			continue;
		}
		if (i >= argc && (strcmp(opt, "-h") != 0 && strcmp(opt, "--help") != 0))
			return map_usage("an option's value is missing");
		if (strcmp(opt, "--collection") == 0)
			strv_add(&a->collections, argv[i++]);
		else if (strcmp(opt, "--outdir") == 0)
			a->outdir = argv[i++];
		else if (strcmp(opt, "--config") == 0)
			a->config = argv[i++];
		else if (strcmp(opt, "--default") == 0)
			a->defaults = argv[i++];
		else if (strcmp(opt, "--override") == 0)
			a->overrides = argv[i++];
		else if (strcmp(opt, "--in") == 0 || strcmp(opt, "-i") == 0)
			a->in = argv[i++];
		else if (strcmp(opt, "--artifact-info") == 0)
			a->artifact_info = argv[i++];
		else if (strcmp(opt, "-o") == 0 || strcmp(opt, "--out") == 0)
			a->out = argv[i++];
		else if (strcmp(opt, "--push") == 0)
			a->push = argv[i++];
		else if (strcmp(opt, "--cert") == 0)
			a->cert = argv[i++];
		else if (strcmp(opt, "--token-file") == 0)
			a->token_file = argv[i++];
		else if (strcmp(opt, "--netrc") == 0)
			a->netrc = argv[i++];
		else if (strcmp(opt, "--ca-path") == 0)
			a->ca_path = argv[i++];
		else if (strcmp(opt, "--functions") == 0)
			a->code.functions = argv[i++];
		else if (strcmp(opt, "--visit") == 0)
			strv_add(&a->code.visit, argv[i++]);
		else if (strcmp(opt, "--table") == 0) {
			char *eq = strchr(argv[i], '=');

			if (eq == NULL || eq == argv[i] || eq[1] == '\0')
				return map_usage("--table takes NAME=FILE");
			*eq = '\0';
			strv_add(&a->code.table_names, argv[i]);
			strv_add(&a->code.table_paths, eq + 1);
			i++;
		}
		else if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
			map_usage(NULL);
			return CLIENT_EXIT_USAGE;
		} else {
			char *why = xasprintf("unknown argument '%s'", opt);
			int r = map_usage(why);

			free(why);
			return r;
		}
	}
	if (a->collections.n > 0)
		return map_check_collection(a);
	if (a->files.n > 0)
		return map_usage("files to map are given with --local (or with --collection)");
	if (a->outdir != NULL)
		return map_usage("--outdir goes with --collection");
	if (a->collection == NULL && a->in == NULL)
		return map_usage("--observation (or --in) is required");
	if (a->lineage.n == 0)
		return map_usage("--lineage is required");
	if (a->local.n != a->lineage.n)
		return map_usage("--local needs one file per --lineage entry");
	if (a->blueprint.n > 1 && a->blueprint.n != a->lineage.n)
		return map_usage("give one --blueprint, or one per --lineage entry");
	if (a->push != NULL && (a->out != NULL || a->in != NULL))
		return map_usage("--push takes the existing observation from the repository: "
		    "no -o or --in");
	if (a->push == NULL && (a->cert || a->token_file || a->netrc || a->ca_path))
		return map_usage("--cert, --token-file, --netrc and --ca-path go with --push");
	if (a->push != NULL && a->collection == NULL)
		return map_usage("--push needs --observation");
	if (a->blueprint.n > 0 && (a->config || a->defaults || a->overrides))
		return map_usage("--blueprint and --config/--default/--override exclude each other");
	return 0;
}

static void
info_free(struct artifact_info *info, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(info[i].uri);
		free(info[i].length);
		free(info[i].checksum);
		free(info[i].type);
	}
	free(info);
}

/* URI, length, md5:checksum, content type: tab-separated; empty or '-' = unknown. */
static int
info_load(const char *path, struct artifact_info **out, size_t *n)
{
	char *line = NULL, *f[4], *p;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	FILE *fp;
	int i;

	*out = NULL;
	*n = 0;
	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "caom2ingest map: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, fp)) > 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		for (i = 0, p = line; i < 4; i++) {
			f[i] = p;
			if (p != NULL && (p = strchr(p, '\t')) != NULL)
				*p++ = '\0';
		}
		if (f[0][0] == '\0') {
			fprintf(stderr, "caom2ingest map: %s:%zu: no URI\n", path, lineno);
			fclose(fp);
			free(line);
			return -1;
		}
		*out = xreallocarray(*out, *n + 1, sizeof **out);
		for (i = 0; i < 4; i++) {
			if (f[i] != NULL && (f[i][0] == '\0' || strcmp(f[i], "-") == 0))
				f[i] = NULL;
		}
		(*out)[*n].uri = xstrdup(f[0]);
		(*out)[*n].length = xstrdup(f[1]);
		(*out)[*n].checksum = xstrdup(f[2]);
		(*out)[*n].type = xstrdup(f[3]);
		(*n)++;
	}
	free(line);
	fclose(fp);
	return 0;
}

/* Does path hold a FITS file's own bytes (not a header dump)? */
static int
real_fits_bytes(const char *path)
{
	unsigned char head[81];
	size_t n;
	FILE *fp = fopen(path, "rb");

	if (fp == NULL)
		return 0;
	n = fread(head, 1, sizeof head, fp);
	fclose(fp);
	if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
		return 1;
	return n >= 9 && memcmp(head, "SIMPLE  =", 9) == 0 && memchr(head, '\n', n) == NULL;
}

/* Length, checksum and type: from the local bytes, then the storage record. */
static int
content_meta(struct caom_artifact *art, const char *local, int own_bytes,
    const struct artifact_info *info, size_t ninfo)
{
	struct artifact_facts facts;
	char *cause = NULL, *end;
	size_t i;

	if (own_bytes) {
		if (artifact_facts_read(local, &facts, &cause) != 0) {
			fprintf(stderr, "caom2ingest map: %s\n", cause);
			free(cause);
			return -1;
		}
		artifact_facts_apply(art, &facts);
	}
	for (i = 0; i < ninfo; i++) {
		if (strcmp(info[i].uri, art->uri) != 0)
			continue;
		if (info[i].length != NULL) {
			long long n = strtoll(info[i].length, &end, 10);

			if (*end != '\0' || n < 0) {
				fprintf(stderr, "caom2ingest map: --artifact-info: %s: bad length '%s'\n",
				    info[i].uri, info[i].length);
				return -1;
			}
			art->content_length = n;
			art->has_content_length = 1;
		}
		if (info[i].checksum != NULL) {
			free(art->content_checksum);
			art->content_checksum = xstrdup(info[i].checksum);
		}
		if (info[i].type != NULL) {
			free(art->content_type);
			art->content_type = xstrdup(info[i].type);
		}
	}
	return 0;
}

static void
print_warnings(char *w)
{
	char *line, *save = NULL;

	for (line = w ? strtok_r(w, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
		fprintf(stderr, "caom2ingest map: warning: %s\n", line);
	free(w);
}

/* The runtime of --functions, --visit and --table (none when none is given). */
static int
map_code_build(struct map_code *c, char **cause)
{
	struct lua_code_spec spec;

	memset(&spec, 0, sizeof spec);
	spec.functions = c->functions;
	spec.visit = (const char *const *)c->visit.v;
	spec.nvisit = c->visit.n;
	spec.table_names = (const char *const *)c->table_names.v;
	spec.table_paths = (const char *const *)c->table_paths.v;
	spec.ntables = c->table_names.n;
	if (!lua_code_wanted(&spec))
		return 0;
	return (c->rt = lua_code_build(&spec, cause)) != NULL ? 0 : -1;
}

/* The blueprint for lineage entry i. */
static struct blueprint *
map_blueprint(const struct map_args *a, struct legacy *lg, size_t i, const char *uri)
{
	struct blueprint *bp = NULL;
	char *cause = NULL, *warn = NULL;
	const char *file;

	if (lg != NULL) {
		if (legacy_blueprint(lg, uri, &bp, &warn, &cause) != 0) {
			fprintf(stderr, "caom2ingest map: %s\n", cause);
			free(cause);
			return NULL;
		}
		if (i == 0)
			print_warnings(warn);
		else
			free(warn);
		return bp;
	}
	bp = blueprint_new();
	if (a->blueprint.n == 0)
		return bp;
	file = a->blueprint.v[a->blueprint.n == 1 ? 0 : i];
	if (a->code.functions != NULL)
		bp_allow_functions(bp);
	if (blueprint_load(bp, file, &cause) != 0 ||
	    (a->code.functions != NULL && lua_code_bind(a->code.rt, a->code.functions, bp,
	    &cause) != 0)) {
		fprintf(stderr, "caom2ingest map: %s\n", cause);
		free(cause);
		blueprint_free(bp);
		return NULL;
	}
	return bp;
}

/* Map lineage entry i into obs; 0 or -1 (message printed). */
static int
map_one(const struct map_args *a, struct legacy *lg, size_t i, struct caom_observation **obs,
    const struct artifact_info *info, size_t ninfo)
{
	const char *entry = a->lineage.v[i], *local = a->local.v[i];
	struct fits_file *f = NULL;
	struct blueprint *bp;
	struct map_input in;
	struct caom_plane *pl;
	struct caom_artifact *art;
	char *slash = strchr(entry, '/'), *pid, *cause = NULL, *warn = NULL;
	int r = -1;

	if (slash == NULL || slash == entry || slash[1] == '\0') {
		fprintf(stderr, "caom2ingest map: --lineage %s: expected PRODUCT_ID/ARTIFACT_URI\n",
		    entry);
		return -1;
	}
	memset(&in, 0, sizeof in);
	pid = xstrndup(entry, (size_t)(slash - entry));
	if ((bp = map_blueprint(a, lg, i, slash + 1)) == NULL)
		goto out;
	if (*obs == NULL)
		*obs = caom_observation_new(map_observation_kind(bp), a->collection,
		    a->observation_id);
	if (access(local, R_OK) != 0) {
		fprintf(stderr, "caom2ingest map: %s: %s\n", local, strerror(errno));
		goto out;
	}
	if (fits_name_is_fits(local) && fits_read(local, &f, &cause) != 0) {
		fprintf(stderr, "caom2ingest map: %s\n", cause);
		goto out;
	}
	memset(&in, 0, sizeof in);
	in.product_id = pid;
	in.uri = slash + 1;
	in.fits = f;
	in.path = local;
	in.bp = bp;
	if (a->code.rt != NULL) {
		const char *base = strrchr(local, '/') != NULL ? strrchr(local, '/') + 1 : local;
		struct lua_rt_input li = { f, slash + 1, base, NULL };

		if ((in.lua = lua_rt_begin(a->code.rt, &li, &cause)) == NULL) {
			fprintf(stderr, "caom2ingest map: %s\n", cause);
			goto out;
		}
	}
	if (map_augment(*obs, &in, &warn, &cause) != 0) {
		print_warnings(warn);
		fprintf(stderr, "caom2ingest map: %s\n", cause);
		goto out;
	}
	print_warnings(warn);
	/* the visitors, in order, after the mapping and before the checksums */
	if (in.lua != NULL && lua_rt_visit(in.lua, *obs, &cause) != 0) {
		fprintf(stderr, "caom2ingest map: %s: %s\n", local, cause);
		goto out;
	}
	pl = caom_observation_find_plane(*obs, pid);
	art = pl != NULL ? caom_plane_find_artifact(pl, slash + 1) : NULL;
	if (art != NULL && content_meta(art, local, f == NULL || real_fits_bytes(local), info,
	    ninfo) != 0)
		goto out;
	r = 0;
out:
	lua_rt_end(in.lua);
	free(cause);
	free(pid);
	fits_file_free(f);
	blueprint_free(bp);
	return r;
}

static int
map_write(const struct map_args *a, const struct caom_observation *obs)
{
	char *tmp = NULL, *cause = NULL;
	FILE *fp = stdout;
	int r = 0;

	struct stat st;

	if (a->out != NULL && stat(a->out, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* a device or a pipe (/dev/null, /dev/stdout): write to it, never replace it */
		if ((fp = fopen(a->out, "w")) == NULL) {
			fprintf(stderr, "caom2ingest map: %s: %s\n", a->out, strerror(errno));
			return -1;
		}
		if (caom_xml_write_fp(obs, fp, &cause) != 0 || fclose(fp) != 0) {
			fprintf(stderr, "caom2ingest map: %s: %s\n", a->out,
			    cause ? cause : strerror(errno));
			free(cause);
			return -1;
		}
		return 0;
	}
	if (a->out != NULL && strcmp(a->out, "-") != 0) {
		tmp = xasprintf("%s.tmpXXXXXX", a->out);
		int fd = mkstemp(tmp);

		if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
			fprintf(stderr, "caom2ingest map: %s: %s\n", a->out, strerror(errno));
			if (fd >= 0)
				close(fd);
			free(tmp);
			return -1;
		}
	}
	if (caom_xml_write_fp(obs, fp, &cause) != 0 || fflush(fp) != 0) {
		fprintf(stderr, "caom2ingest map: %s: %s\n", a->out ? a->out : "stdout",
		    cause ? cause : strerror(errno));
		free(cause);
		r = -1;
	}
	if (tmp != NULL) {
		if (fclose(fp) != 0 && r == 0) {
			fprintf(stderr, "caom2ingest map: %s: %s\n", a->out, strerror(errno));
			r = -1;
		}
		if (r == 0 && rename(tmp, a->out) != 0) {
			fprintf(stderr, "caom2ingest map: %s: %s\n", a->out, strerror(errno));
			r = -1;
		}
		if (r != 0)
			unlink(tmp);
		free(tmp);
	}
	return r;
}

struct map_push {
	const struct map_args	*a;
	struct legacy		*lg;
	const struct artifact_info *info;
	size_t			 ninfo;
	struct ev_loop		*loop;
	enum repo_result	 result;
	char			*message;
};

/* The repository's merge: map every file into what it stores (or a new observation). */
static int
push_merge(void *arg, const char *existing, size_t len, char **out, size_t *outlen,
    char **cause)
{
	struct map_push *p = arg;
	struct caom_observation *obs = NULL;
	uint8_t before[16];
	int had = 0, r = -1;
	size_t i;

	if (existing != NULL) {
		if (caom_xml_read_memory(p->a->push, existing, len, &obs, cause) != 0)
			return -1;
		if ((had = obs->ent.has_acc_meta_checksum))
			memcpy(before, obs->ent.acc_meta_checksum, 16);
	}
	for (i = 0; i < p->a->lineage.n; i++) {
		if (map_one(p->a, p->lg, i, &obs, p->info, p->ninfo) != 0) {
			*cause = xstrdup("mapping failed");
			goto out;
		}
	}
	checksum_compute(obs);
	if (had && memcmp(before, obs->ent.acc_meta_checksum, 16) == 0)
		r = 1;
	else {
		*out = caom_xml_write(obs, outlen);
		r = 0;
	}
out:
	caom_observation_free(obs);
	return r;
}

static void
push_done(void *arg, enum repo_result result, long status, const char *message,
    long retry_after)
{
	struct map_push *p = arg;

	(void)retry_after;
	p->result = result;
	if (message != NULL && message[0] != '\0')
		p->message = xstrdup(message);
	else if (status > 0)
		p->message = xasprintf("HTTP %ld", status);
	ev_break(p->loop, EVBREAK_ALL);
}

/* Push the mapped observation with the daemon's client; an exit code. */
static int
map_push(const struct map_args *a, struct legacy *lg, const struct artifact_info *info,
    size_t ninfo)
{
	struct repo_config cfg = { a->push, a->cert, a->token_file, a->netrc, a->ca_path,
		120000, 1 };
	struct map_push p = { a, lg, info, ninfo, NULL, REPO_TRANSIENT, NULL };
	struct repo *r;
	char *cause = NULL;
	int code;

	p.loop = ev_loop_new(EVFLAG_AUTO);
	if ((r = repo_new(p.loop, &cfg, &cause)) == NULL) {
		fprintf(stderr, "caom2ingest map: %s\n", cause);
		free(cause);
		ev_loop_destroy(p.loop);
		return CLIENT_EXIT_FAIL;
	}
	repo_push(r, a->collection, a->observation_id, push_merge, push_done, &p);
	ev_run(p.loop, 0);
	repo_free(r);
	ev_loop_destroy(p.loop);
	code = p.result == REPO_STORED || p.result == REPO_UNCHANGED ? CLIENT_EXIT_OK :
	    CLIENT_EXIT_FAIL;
	if (code == CLIENT_EXIT_OK)
		fprintf(stderr, "caom2ingest map: %s/%s %s\n", a->collection, a->observation_id,
		    p.result == REPO_STORED ? "stored" : "unchanged (nothing written)");
	else
		fprintf(stderr, "caom2ingest map: %s/%s not stored (%s): %s\n", a->collection,
		    a->observation_id, repo_result_name(p.result),
		    p.message != NULL ? p.message : "no reason given");
	free(p.message);
	return code;
}

/* ---- --collection: files classified by a collection file's naming rules ---- */

/* A collection of the --collection files, with its rule set. */
struct map_coll {
	const struct conf_collection *conf;
	struct rules		*rules;
};

/* A file to map and what the naming rules made of it. */
struct map_file {
	const char		*local;		/* as given: the bytes read */
	char			*path;		/* the file it stands for: local, or without .header */
	int			 dump;		/* local is NAME.header, a dump of NAME */
	const struct map_coll	*coll;
	struct rules_result	 res;
};

static void
map_colls_free(struct map_coll *colls, size_t n, struct conf **confs, size_t nconfs)
{
	size_t i;

	for (i = 0; i < n; i++)
		rules_free(colls[i].rules);
	free(colls);
	for (i = 0; i < nconfs; i++)
		conf_free(confs[i]);
	free(confs);
}

/* Every collection of every --collection file, in order, with its rules; -1 printed. */
static int
map_colls_load(const struct map_args *a, struct map_coll **out, size_t *nout,
    struct conf ***confs)
{
	struct map_coll *colls = NULL;
	char *errors = NULL, *cause = NULL;
	size_t i, k, n = 0;

	*confs = xcalloc(a->collections.n + 1, sizeof **confs);
	for (i = 0; i < a->collections.n; i++) {
		if (conf_load_collections(a->collections.v[i], &(*confs)[i], &errors) != 0) {
			fprintf(stderr, "%s\n", errors);
			free(errors);
			break;
		}
		for (k = 0; k < (*confs)[i]->collections.n; k++) {
			colls = xreallocarray(colls, n + 1, sizeof *colls);
			colls[n].conf = &(*confs)[i]->collections.v[k];
			if ((colls[n].rules = collection_rules(colls[n].conf, &cause)) == NULL) {
				/* conf_load_collections compiled each rule: not expected */
				fprintf(stderr, "caom2ingest map: %s: %s\n", a->collections.v[i], cause);
				free(cause);
				map_colls_free(colls, n, *confs, a->collections.n);
				*confs = NULL;
				return -1;
			}
			n++;
		}
	}
	if (i < a->collections.n || n == 0) {
		if (i == a->collections.n)
			fprintf(stderr, "caom2ingest map: no collection in %s\n",
			    a->collections.v[0]);
		map_colls_free(colls, n, *confs, a->collections.n);
		*confs = NULL;
		return -1;
	}
	*out = colls;
	*nout = n;
	return 0;
}

/* The first collection whose rules take f (as the daemon's rules of a landing directory). */
static int
map_classify(struct map_file *f, const struct map_coll *colls, size_t ncolls)
{
	const char *name;
	size_t i, len = strlen(f->local);
	int excluded = 0;

	f->dump = len > 7 && strcmp(f->local + len - 7, ".header") == 0;
	f->path = f->dump ? xstrndup(f->local, len - 7) : xstrdup(f->local);
	name = strrchr(f->path, '/') != NULL ? strrchr(f->path, '/') + 1 : f->path;
	for (i = 0; i < ncolls; i++) {
		switch (rules_classify(colls[i].rules, f->path, &f->res)) {
		case RULES_MATCHED:
			f->coll = &colls[i];
			return 0;
		case RULES_EXCLUDED:
			excluded++;
			break;
		case RULES_NO_MATCH:
			break;
		}
	}
	fprintf(stderr, "caom2ingest map: %s: no naming rule of %s takes '%s'%s\n", f->local,
	    ncolls == 1 ? colls[0].conf->name : "any collection", name,
	    excluded ? " (excluded by include/exclude globs)" : "");
	return -1;
}

/* Files of one observation together, then by path (the daemon's ORDER BY path). */
static int
map_file_cmp(const void *pa, const void *pb)
{
	const struct map_file *a = pa, *b = pb;
	int c;

	if ((c = strcmp(a->coll->conf->name, b->coll->conf->name)) != 0)
		return c;
	if ((c = strcmp(a->res.observation, b->res.observation)) != 0)
		return c;
	return strcmp(a->path, b->path);
}

/*
 * One file into obs as ingest.c's job does: mapped with its rule's
 * blueprint (when it has one), then the artifact of its plane with the
 * facts of its bytes; a dump's artifact gets the type its name gives and
 * the rest from --artifact-info only.
 */
static int
map_coll_file(struct caom_observation *obs, const struct map_file *f,
    const struct artifact_info *info, size_t ninfo)
{
	const struct conf_rule *rule = &f->coll->conf->rules.v[f->res.rule];
	struct blueprint *bp = NULL;
	struct fits_file *ff = NULL;
	struct artifact_facts facts;
	struct caom_artifact *art;
	struct map_input in;
	char *cause = NULL, *warn = NULL;
	int r = -1;

	if (f->res.blueprint != NULL && f->res.blueprint[0] != '\0') {
		if (rule->lua != NULL) {
			/* collection code: function values bound to its runtime (as ingest.c) */
			bp = blueprint_new();
			bp_allow_functions(bp);
			if (blueprint_load(bp, f->res.blueprint, &cause) != 0 ||
			    lua_code_bind(rule->lua, rule->lua_functions, bp, &cause) != 0)
				goto out;
		} else if (artifact_blueprint(f->res.blueprint, f->local, f->res.uri, &bp, &warn,
		    &cause) != 0)
			goto out;
		if (fits_name_is_fits(f->local) && fits_read(f->local, &ff, &cause) != 0)
			goto out;
		print_warnings(warn);
		warn = NULL;
		if (obs->kind != map_observation_kind(bp) && obs->nplanes == 0)
			obs->kind = map_observation_kind(bp);
		memset(&in, 0, sizeof in);
		in.product_id = f->res.product;
		in.uri = f->res.uri;
		in.fits = ff;
		in.path = f->local;
		in.bp = bp;
		if (rule->lua != NULL) {
			const char *base = strrchr(f->local, '/') != NULL ?
			    strrchr(f->local, '/') + 1 : f->local;
			struct lua_rt_input li = { ff, f->res.uri, base, NULL };

			if ((in.lua = lua_rt_begin(rule->lua, &li, &cause)) == NULL)
				goto out;
		}
		r = map_augment(obs, &in, &warn, &cause);
		print_warnings(warn);
		warn = NULL;
		/* the visitors, in order, after the mapping and before the checksums */
		if (r == 0 && in.lua != NULL && lua_rt_visit(in.lua, obs, &cause) != 0)
			r = -1;
		lua_rt_end(in.lua);
		if (r != 0)
			goto out;
		r = -1;
	}
	art = caom_plane_add_artifact(caom_observation_add_plane(obs, f->res.product),
	    f->res.uri);
	if (art->product_type == NULL)
		art->product_type = xstrdup("science");
	if (art->release_type == NULL)
		art->release_type = xstrdup("data");
	if (!f->dump) {
		if (artifact_facts_read(f->local, &facts, &cause) != 0)
			goto out;
		artifact_facts_apply(art, &facts);
	} else {
		free(art->content_type);
		art->content_type = xstrdup(artifact_content_type(f->path));
	}
	r = content_meta(art, f->local, 0, info, ninfo);
out:
	if (cause != NULL)
		fprintf(stderr, "caom2ingest map: %s\n", cause);
	free(cause);
	free(warn);
	fits_file_free(ff);
	blueprint_free(bp);
	return r;
}

/* Write obs to -o, DIR/COLLECTION/OBSERVATION_ID.xml (--outdir) or standard output. */
static int
map_coll_write(const struct map_args *a, const struct caom_observation *obs)
{
	char *text, *cause = NULL;
	size_t len;
	int r;

	if (a->outdir == NULL)
		return map_write(a, obs);
	text = caom_xml_write(obs, &len);
	if ((r = sink_dir_write(a->outdir, obs->collection, obs->observation_id, text, len,
	    &cause)) != 0) {
		fprintf(stderr, "caom2ingest map: %s\n", cause);
		free(cause);
	}
	free(text);
	return r;
}

/* Map files[lo..hi), one observation; its existing version when --in holds it. */
static int
map_coll_group(const struct map_args *a, struct map_file *files, size_t lo, size_t hi,
    struct caom_observation **existing, const struct artifact_info *info, size_t ninfo)
{
	const char *coll = files[lo].coll->conf->name, *oid = files[lo].res.observation;
	struct caom_observation *obs = NULL;
	size_t i;
	int r = -1;

	if (*existing != NULL && strcmp((*existing)->collection, coll) == 0 &&
	    strcmp((*existing)->observation_id, oid) == 0) {
		obs = *existing;
		*existing = NULL;
	} else {
		obs = caom_observation_new(CAOM_OBS_SIMPLE, coll, oid);
		obs->algorithm.name = xstrdup("exposure");
	}
	for (i = lo; i < hi; i++) {
		if (map_coll_file(obs, &files[i], info, ninfo) != 0)
			goto out;
	}
	checksum_compute(obs);
	r = map_coll_write(a, obs);
out:
	caom_observation_free(obs);
	return r;
}

/* caom2ingest map --collection: classify, group, map, write; an exit code. */
static int
map_collection(const struct map_args *a, const struct artifact_info *info, size_t ninfo)
{
	struct caom_observation *existing = NULL;
	struct map_coll *colls = NULL;
	struct map_file *files;
	struct conf **confs = NULL;
	size_t ncolls = 0, i, j, ngroups = 0;
	char *cause = NULL;
	int bad = 0, r = CLIENT_EXIT_FAIL;

	if (map_colls_load(a, &colls, &ncolls, &confs) != 0)
		return CLIENT_EXIT_FAIL;
	files = xcalloc(a->files.n + 1, sizeof *files);
	for (i = 0; i < a->files.n; i++) {
		files[i].local = a->files.v[i];
		if (access(files[i].local, R_OK) != 0) {
			fprintf(stderr, "caom2ingest map: %s: %s\n", files[i].local, strerror(errno));
			bad++;
		} else if (map_classify(&files[i], colls, ncolls) != 0)
			bad++;
	}
	if (bad > 0)
		goto done;
	qsort(files, a->files.n, sizeof *files, map_file_cmp);
	for (i = 0; i < a->files.n; i = j, ngroups++) {
		for (j = i + 1; j < a->files.n && files[j].coll == files[i].coll &&
		    strcmp(files[j].res.observation, files[i].res.observation) == 0; j++)
			;
	}
	if (ngroups > 1 && a->outdir == NULL) {
		fprintf(stderr, "caom2ingest map: the files make %zu observations: give --outdir "
		    "DIR for one file each\n", ngroups);
		goto done;
	}
	if (a->in != NULL && caom_xml_read_file(a->in, &existing, &cause) != 0) {
		fprintf(stderr, "caom2ingest map: %s\n", cause);
		free(cause);
		goto done;
	}
	for (i = 0; existing != NULL && i < a->files.n; i++) {
		if (strcmp(existing->collection, files[i].coll->conf->name) == 0 &&
		    strcmp(existing->observation_id, files[i].res.observation) == 0)
			break;
	}
	if (existing != NULL && i == a->files.n) {
		fprintf(stderr, "caom2ingest map: %s holds %s/%s, which none of the files make\n",
		    a->in, existing->collection, existing->observation_id);
		goto done;
	}
	for (i = 0; i < a->files.n; i = j) {
		for (j = i + 1; j < a->files.n && files[j].coll == files[i].coll &&
		    strcmp(files[j].res.observation, files[i].res.observation) == 0; j++)
			;
		if (map_coll_group(a, files, i, j, &existing, info, ninfo) != 0)
			goto done;
	}
	r = CLIENT_EXIT_OK;
done:
	caom_observation_free(existing);
	for (i = 0; i < a->files.n; i++) {
		free(files[i].path);
		rules_result_free(&files[i].res);
	}
	free(files);
	map_colls_free(colls, ncolls, confs, a->collections.n);
	return r;
}

int
client_map(int argc, char **argv)
{
	struct map_args a;
	struct caom_observation *obs = NULL;
	struct artifact_info *info = NULL;
	struct legacy *lg = NULL;
	size_t ninfo = 0, i;
	char *cause = NULL;
	int r;

	if ((r = map_parse(argc, argv, &a)) != 0)
		goto done;
	r = CLIENT_EXIT_FAIL;
	if (a.artifact_info != NULL && info_load(a.artifact_info, &info, &ninfo) != 0)
		goto done;
	if (a.collections.n > 0) {
		r = map_collection(&a, info, ninfo);
		goto done;
	}
	if ((a.config || a.defaults || a.overrides) &&
	    legacy_load(a.config, a.defaults, a.overrides, &lg, &cause) != 0) {
		fprintf(stderr, "caom2ingest map: %s\n", cause);
		goto done;
	}
	if (map_code_build(&a.code, &cause) != 0) {
		fprintf(stderr, "caom2ingest map: %s\n", cause);
		goto done;
	}
	if (a.push != NULL) {
		r = map_push(&a, lg, info, ninfo);
		goto done;
	}
	if (a.in != NULL) {
		if (caom_xml_read_file(a.in, &obs, &cause) != 0) {
			fprintf(stderr, "caom2ingest map: %s\n", cause);
			goto done;
		}
		if (a.collection != NULL && (strcmp(obs->collection, a.collection) != 0 ||
		    strcmp(obs->observation_id, a.observation_id) != 0)) {
			fprintf(stderr, "caom2ingest map: %s holds %s/%s, not %s/%s\n", a.in,
			    obs->collection, obs->observation_id, a.collection, a.observation_id);
			goto done;
		}
	}
	for (i = 0; i < a.lineage.n; i++) {
		if (map_one(&a, lg, i, &obs, info, ninfo) != 0)
			goto done;
	}
	checksum_compute(obs);
	if (map_write(&a, obs) == 0)
		r = CLIENT_EXIT_OK;
done:
	free(cause);
	free(a.lineage.v);
	free(a.local.v);
	free(a.blueprint.v);
	free(a.collections.v);
	free(a.files.v);
	free(a.code.visit.v);
	free(a.code.table_names.v);
	free(a.code.table_paths.v);
	lua_rt_free(a.code.rt);
	lua_rt_thread_cleanup();
	info_free(info, ninfo);
	legacy_free(lg);
	caom_observation_free(obs);
	caom_xml_cleanup();
	return r;
}
